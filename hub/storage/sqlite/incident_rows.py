"""Incident records ⇄ SQLite rows, query filters and page cursors."""

from __future__ import annotations

import re

from contract.protocol import HEX_ID_PATTERN
from hub.domain.incidents import SEVERITY_RANK, Attachment, Caller, Incident, Location
from hub.storage.incidents import IncidentQuery
from hub.storage.sqlite.database import (
    BAD_CURSOR,
    decode_cursor,
    encode_cursor,
    from_iso,
    iso,
    marks,
)

ID = re.compile(HEX_ID_PATTERN)
#: Looked up once: ``Incident.model_fields`` is rebuilt on every access (pydantic's property).
_FIELDS = frozenset(Incident.model_fields)
TIME_COLUMNS = (
    "opened_at",
    "updated_at",
    "last_alert_at",
    "acknowledged_at",
    "dispatched_at",
    "en_route_at",
    "on_scene_at",
    "resolved_at",
    "escalated_at",
)


def to_row(incident: Incident) -> dict:
    data = incident.model_dump(mode="json", exclude={"location", "caller"})
    for column in TIME_COLUMNS:
        moment = getattr(incident, column)
        data[column] = iso(moment) if moment else None
    location, caller = incident.location, incident.caller
    data |= {
        "severity_rank": SEVERITY_RANK[incident.severity],
        "area": location.area,
        "lat": location.lat,
        "lon": location.lon,
        "address": location.address,
        "caller_name": caller.name if caller else None,
        "caller_phone": caller.phone if caller else None,
    }
    return data


def from_row(row: dict) -> Incident:
    data = {k: v for k, v in row.items() if k in _FIELDS}
    for column in TIME_COLUMNS:
        data[column] = from_iso(row[column])
    data["location"] = Location(
        area=row["area"], lat=row["lat"], lon=row["lon"], address=row["address"]
    )
    if row["caller_name"] is not None or row["caller_phone"] is not None:
        data["caller"] = Caller(name=row["caller_name"], phone=row["caller_phone"])
    return Incident.model_validate(data)


def attachment_record(row: dict) -> Attachment:
    return Attachment.model_validate({k: v for k, v in row.items() if k != "stored_name"})


def filters(query: IncidentQuery) -> tuple[list[str], list]:
    where: list[str] = []
    args: list = []
    for column, values in (("state", query.state), ("severity", query.severity)):
        if values:
            where.append(f"{column} IN ({marks(values)})")
            args += [v.value for v in values]
    for column, value in (("category", query.category), ("area", query.area), ("kind", query.kind)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(getattr(value, "value", value))
    if query.opened_since is not None:
        where.append("opened_at >= ?")
        args.append(iso(query.opened_since))
    if query.opened_before is not None:
        where.append("opened_at < ?")
        args.append(iso(query.opened_before))
    return where, args


def row_cursor(row: dict) -> str:
    return encode_cursor(row["opened_at"], row["id"])


def cursor_key(cursor: str) -> tuple[str, str]:
    """The (opened_at, id) a page ends with; ValueError for anything we did not make."""
    opened_at, incident_id = decode_cursor(cursor, 2)
    if not ID.match(incident_id):
        raise ValueError(BAD_CURSOR)
    return opened_at, incident_id
