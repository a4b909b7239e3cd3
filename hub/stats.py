"""The hub's own figures (``GET /api/stats``), read from storage in one place."""

from __future__ import annotations

from collections.abc import Mapping

from hub.storage.repositories import Storage


def hub_figures(storage: Storage, pending: Mapping[str, int] | None = None) -> dict:
    """Counters and totals. ``seq_gaps`` is alerts still missing (late arrivals give theirs
    back); ``seq_gaps_seen`` never goes down; ``clock_skewed`` counts alerts whose event time
    was a day or more from their receive time; ``seq_jumps`` counts sequence jumps too large
    to be loss (a node that was reset). ``pending`` adds counts decided but not yet written
    (:meth:`hub.ingest.Ingestor.pending_counts`)."""
    c = storage.counters.all()
    for name, value in (pending or {}).items():
        c[name] = c.get(name, 0) + value
    quarantined = {
        k.split(".", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("quarantined.")
    }
    return {
        "alerts_received": c.get("alerts", 0),
        "alerts_stored": storage.alerts.count(),
        "duplicates": c.get("duplicates", 0),
        "seq_gaps": storage.nodes.total_seq_gaps(),
        "seq_gaps_seen": c.get("seq_gaps_seen", 0),
        "snapshots": c.get("snapshots", 0),
        "snapshot_duplicates": c.get("snapshot_duplicates", 0),
        "quarantined": quarantined,
        "clock_skewed": c.get("clock_skewed", 0),
        "seq_jumps": c.get("seq_jumps", 0),
    }
