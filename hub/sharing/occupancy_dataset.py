"""Event ring occupancy as a shared dataset: per event ring and whole closed hour, the peak
and mean of the people counted (and the peak per m² where cameras are calibrated).

What may leave, and why:

* **Events of the token's areas.** An event is filed under a site area (``events[].area``);
  a token sees the events of its areas. An event with no area is seen only by a token that
  covers every area.
* **Hours whose peak is below k are left out**, like small count cells: a ring with one to
  four people in it at night tells who was there. Nothing else is published for such an
  hour (no mean either), and no totals are given, so nothing can be recovered by subtraction.
* No cameras, feeds or positions: the ring's name is the finest place there is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from contract.event_settings import SiteEvent

HOUR = timedelta(hours=1)
#: ``(event id, start, end) -> samples`` with ``.ring``, ``.at``, ``.occupancy``, ``.per_m2``
#: (:meth:`hub.events_security.store.EventStore.series`).
Series = Callable[[str, datetime, datetime], Sequence]


def visible(event: SiteEvent, areas: Sequence[str], all_areas: set[str]) -> bool:
    """May a token covering ``areas`` see ``event``?"""
    if event.area is None:
        return set(areas) >= all_areas
    return event.area in areas


def occupancy_rows(
    events: Sequence[SiteEvent],
    series: Series,
    start: datetime,
    end: datetime,
    areas: Sequence[str],
    all_areas: set[str],
    k: int,
) -> list[dict]:
    """``{event, area, ring, hour, peak, mean, peak_per_m2}`` rows that may leave, for the
    whole hours of ``[start, end)`` (the caller serves closed hours only)."""
    rows = []
    for event in events:
        if not visible(event, areas, all_areas):
            continue
        hours: dict[tuple[str, datetime], list] = defaultdict(list)
        for sample in series(event.id, start, end):
            hour = sample.at.replace(minute=0, second=0, microsecond=0)
            hours[sample.ring, hour].append(sample)
        for (ring, hour), samples in sorted(hours.items()):
            peak = max(s.occupancy for s in samples)
            if peak < k:
                continue
            densities = [s.per_m2 for s in samples if s.per_m2 is not None]
            rows.append(
                {
                    "event": event.id,
                    "area": event.area,
                    "ring": ring,
                    "hour": hour.isoformat(),
                    "peak": peak,
                    "mean": round(sum(s.occupancy for s in samples) / len(samples), 1),
                    "peak_per_m2": round(max(densities), 3) if densities else None,
                }
            )
    return rows


def occupancy_csv(rows: Sequence[dict]) -> str:
    lines = ["event,area,ring,hour,peak,mean,peak_per_m2"]
    for r in rows:
        values = [r["event"], r["area"], r["ring"], r["hour"], r["peak"], r["mean"]]
        values.append(r["peak_per_m2"])
        lines.append(",".join("" if v is None else str(v) for v in values))
    return "\n".join(lines) + "\n"


def occupancy_sensorthings(rows: Sequence[dict]) -> dict:
    """OGC SensorThings API 1.1 shape: one Datastream per event ring (ObservedProperty
    ``occupancy``, unit person), one Observation per published hour (result: the peak;
    parameters: the mean and the peak per m²)."""
    streams: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        streams[r["event"], r["ring"]].append(r)
    value = []
    for (event, ring), hours in sorted(streams.items()):
        stream_id = f"occupancy:{event}:{ring}"
        value.append(
            {
                "@iot.id": stream_id,
                "name": f"people in the {ring} ring of {event}, peak per hour",
                "description": "occupancy: hourly peak, hours below k left out",
                "observationType": "http://www.opengis.net/def/observationType/OGC-OM/2.0/"
                "OM_CountObservation",
                "unitOfMeasurement": {
                    "name": "person",
                    "symbol": "{person}",
                    "definition": "http://unitsofmeasure.org/ucum.html#para-curly",
                },
                "Thing": {"@iot.id": event, "name": event},
                "ObservedProperty": {"@iot.id": "occupancy", "name": "occupancy"},
                "Observations": [
                    {
                        "@iot.id": f"{stream_id}:{h['hour']}",
                        "phenomenonTime": f"{h['hour']}/"
                        f"{(datetime.fromisoformat(h['hour']) + HOUR).isoformat()}",
                        "resultTime": (datetime.fromisoformat(h["hour"]) + HOUR).isoformat(),
                        "result": h["peak"],
                        "parameters": {"mean": h["mean"], "peak_per_m2": h["peak_per_m2"]},
                    }
                    for h in hours
                ],
            }
        )
    return {"@iot.count": len(value), "value": value}
