"""The shapes shared data leaves in: JSON and CSV of the count cells, OGC SensorThings API
Datastreams with their Observations, and GeoJSON for areas and hot spots.

Everything here is built from *published* cells (:func:`hub.sharing.kanon.suppress` ran
first) and from the site file's area geometry; nothing reads an incident, an alert, a
snapshot, a plate or anyone's position. The one kind of coordinate that leaves is the
outline or middle of an *area*, which the site file draws and which describes the place,
not a person.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from contract.siteconfig import Area
from hub.sharing.kanon import Cell, published_total

HOUR = timedelta(hours=1)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
#: OGC SensorThings API 1.1: a count per hour is an OM_CountObservation.
COUNT_OBSERVATION = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_CountObservation"
CSV_COLUMNS = ("hour_start_utc", "area", "kind", "count")


def cells_json(dataset: str, cells: Sequence[Cell], meta: dict) -> dict:
    """The JSON answer: what was asked (``meta``), the cells and their published total."""
    return {
        "dataset": dataset,
        **meta,
        "cells": [
            {"hour": c.hour.isoformat(), "area": c.area, "kind": c.kind, "count": c.count}
            for c in cells
        ],
        "published_total": published_total(cells),
    }


def cells_csv(cells: Sequence[Cell]) -> str:
    """One row per published cell; the header names the hour as UTC."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for c in cells:
        writer.writerow([c.hour.isoformat(), c.area, c.kind, c.count])
    return out.getvalue()


def sensorthings(dataset: str, cells: Sequence[Cell], areas: dict[str, Area]) -> dict:
    """The answer of ``GET /Datastreams?$expand=Thing,ObservedProperty,Observations`` in
    OGC SensorThings API 1.1 shape: one Datastream per (area, kind), its Thing the area,
    one Observation per published hour with ``phenomenonTime`` the hour as an interval."""
    streams: dict[tuple[str, str], list[Cell]] = defaultdict(list)
    for c in cells:
        streams[(c.area, c.kind)].append(c)
    value = []
    for (area_id, kind), series in sorted(streams.items()):
        stream_id = f"{dataset}:{area_id}:{kind}"
        area = areas.get(area_id)
        value.append(
            {
                "@iot.id": stream_id,
                "name": f"{kind} per hour in {area.name if area else area_id}",
                "description": f"{dataset}: hourly count, cells below k left out",
                "observationType": COUNT_OBSERVATION,
                "unitOfMeasurement": {
                    "name": "count",
                    "symbol": "{count}",
                    "definition": "http://unitsofmeasure.org/ucum.html#para-curly",
                },
                "Thing": {"@iot.id": area_id, "name": area.name if area else area_id},
                "ObservedProperty": {"@iot.id": kind, "name": kind, "definition": dataset},
                "Observations": [
                    {
                        "@iot.id": f"{stream_id}:{c.hour.isoformat()}",
                        "phenomenonTime": f"{c.hour.isoformat()}/{(c.hour + HOUR).isoformat()}",
                        "resultTime": (c.hour + HOUR).isoformat(),
                        "result": c.count,
                    }
                    for c in series
                ],
            }
        )
    return {"@iot.count": len(value), "value": value}


def _geometry(area: Area) -> dict | None:
    """GeoJSON wants [lon, lat] and a closed ring."""
    if area.outline:
        ring = [[p.lon, p.lat] for p in area.outline]
        return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}
    if area.position:
        return {"type": "Point", "coordinates": [area.position.lon, area.position.lat]}
    return None


def areas_geojson(areas: Sequence[Area]) -> dict:
    """The areas a token may read, as drawn in the site file (outline, else middle)."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": a.id,
                "geometry": _geometry(a),
                "properties": {"id": a.id, "name": a.name},
            }
            for a in areas
        ],
    }


def hot_spots(cells: Sequence[Cell], timezone: str, top: int = 20) -> list[dict]:
    """The busiest (area, weekday, local hour) slots: published cells summed by the hour
    of the week they fall in (site-local time), most first. A sum of published cells only,
    so it reveals no suppressed cell. It describes the past, not a prediction."""
    zone = ZoneInfo(timezone)
    slots: dict[tuple[str, int, int], int] = defaultdict(int)
    for c in cells:
        local: datetime = c.hour.astimezone(zone)
        slots[(c.area, local.weekday(), local.hour)] += c.count
    ranked = sorted(slots.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
    return [
        {"area": area, "weekday": WEEKDAYS[day], "hour": hour, "count": n}
        for (area, day, hour), n in ranked
    ]


def hot_spots_geojson(spots: Sequence[dict], areas: dict[str, Area]) -> dict:
    """Hot spots on the map: each at its area's outline or middle, the slot as properties."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": _geometry(areas[s["area"]]) if s["area"] in areas else None,
                "properties": dict(s),
            }
            for s in spots
        ],
    }
