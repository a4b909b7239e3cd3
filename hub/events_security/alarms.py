"""When an event ring's figures open an incident: the same hysteresis as the cameras'
crowd rule (:mod:`edge.rules.crowd`), on the hub's samples.

A ring is *over* when its occupancy is above its ``limit`` or its density above its
``density_limit``. After ``over_samples`` samples over in a row it fires once, then stays
quiet until the ring falls below ``rearm_below`` of every limit: a count hovering at the
limit opens one incident, not one per sample. The state is kept in memory: after a hub
restart a ring still over fires again at most once, and the incident service's correlation
key (one open incident per event ring) keeps that from duplicating an open incident.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from contract.event_settings import SiteEvent
from hub.events_security.aggregate import RingFigure


@dataclass
class _RingState:
    over: int = 0
    armed: bool = True


def over_reason(figure: RingFigure) -> str | None:
    """Why ``figure`` is over its limits (for the incident's title), or None."""
    reasons = []
    if figure.limit is not None and figure.occupancy > figure.limit:
        reasons.append(f"{figure.occupancy} people (limit {figure.limit})")
    density, most = figure.per_m2, figure.density_limit
    if density is not None and most is not None and density > most:
        reasons.append(f"{density:.2f} /m² (limit {most:g})")
    return ", ".join(reasons) or None


def _below_rearm(figure: RingFigure, share: float) -> bool:
    if figure.limit is not None and figure.occupancy >= share * figure.limit:
        return False
    if figure.density_limit is not None and figure.per_m2 is not None:
        return figure.per_m2 < share * figure.density_limit
    return True


class RingAlarms:
    """Hysteresis per (event, ring); :meth:`step` says which rings fire on this sample."""

    def __init__(self) -> None:
        self._states: dict[tuple[str, str], _RingState] = {}
        self._lock = threading.Lock()  # the sampler steps, the API forgets a deleted event

    def step(self, event: SiteEvent, figures: list[RingFigure]) -> list[tuple[RingFigure, str]]:
        """The rings that fire now, each with the reason."""
        with self._lock:
            fired = [(f, reason) for f in figures if (reason := self._fires(event, f))]
        return fired

    def _fires(self, event: SiteEvent, figure: RingFigure) -> str | None:
        """Step one ring's state; the reason if it fires on this sample."""
        state = self._states.setdefault((event.id, figure.ring), _RingState())
        reason = over_reason(figure)
        state.over = state.over + 1 if reason else 0
        if not state.armed and _below_rearm(figure, event.rearm_below):
            state.armed = True
        if reason and state.armed and state.over >= event.over_samples:
            state.armed = False
            return reason
        return None

    def forget(self, event_id: str) -> None:
        """Drop an event's state (it ended or was deleted)."""
        with self._lock:
            for key in [k for k in self._states if k[0] == event_id]:
                del self._states[key]
