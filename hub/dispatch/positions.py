"""Positions: from the officer app or an OsmAnd device, checked before they are stored.

A position is refused, with its own reason and status, and nothing is stored, when it is:

* ``bad_value`` (400) — a field that is not a number, or missing;
* ``out_of_range`` (422) — latitude beyond ±90, longitude beyond ±180, a negative speed;
* ``from_future`` (422) — measured later than now plus :data:`CLOCK_TOLERANCE`;
* ``too_old`` (422) — older than the track is kept (it would be purged at once);
* ``unknown_tracker`` (404) / ``wrong_token`` (403) — OsmAnd only;
* ``impossible_jump`` (422) — it implies travelling faster than ``max_speed_kmh`` from the
  unit's newest point. GPS wanders, so :data:`JUMP_SLACK_M` of the distance is forgiven
  (ten metres of jitter a tenth of a second apart is not 360 km/h);
* ``out_of_order`` (409) — not newer than the unit's newest point (a device replaying its
  buffer sends oldest first, so this is a duplicate or a confused clock).

The OsmAnd protocol (Traccar Client, many hardware trackers) is a GET or a form POST with
``id``, ``lat``, ``lon``, ``timestamp`` (Unix seconds, milliseconds, or ISO 8601), ``speed``
(knots), ``bearing``, ``accuracy`` (metres), ``batt`` (percent); :func:`osmand_reading`
turns one into a :class:`Reading`.

Traccar Client 9 and later POST the same protocol as JSON instead (the native format of the
background-location SDK it is built on; https://www.traccar.org/osmand/)::

    {"location": {"timestamp": "2026-12-02T21:00:00.000Z",
                  "coords": {"latitude": .., "longitude": .., "accuracy": .., "speed": ..,
                             "heading": .., "altitude": ..},
                  "battery": {"level": 0.77, "is_charging": false}, ...},
     "device_id": "48241179"}

with other units: ``speed`` in metres per second, ``battery.level`` a fraction of 1; the SDK
says -1 for a speed, heading or battery level it does not know. :func:`traccar_json_reading`
reads it into the same :class:`Reading`, so both formats pass the same checks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.dispatch.errors import PositionRefused

#: A device's clock a little ahead of the hub's is normal; more is a wrong clock.
CLOCK_TOLERANCE = timedelta(seconds=30)
#: Distance forgiven in the jump check (GPS jitter, accuracy circles).
JUMP_SLACK_M = 100.0
KNOTS_TO_KMH = 1.852
MPS_TO_KMH = 3.6


@dataclass(frozen=True)
class Reading:
    """A position as sent, before it is checked and given to a unit."""

    lat: float
    lon: float
    at: datetime | None = None  # None: now
    accuracy_m: float | None = None
    speed_kmh: float | None = None
    bearing: float | None = None
    battery: float | None = None


def _number(params: Mapping[str, str], name: str, required: bool = False) -> float | None:
    text = params.get(name)
    if text is None or text == "":
        if required:
            raise PositionRefused(400, "bad_value", f"{name} is missing")
        return None
    try:
        value = float(text[:40])
    except ValueError:
        raise PositionRefused(400, "bad_value", f"{name} is not a number") from None
    if not math.isfinite(value):
        raise PositionRefused(400, "bad_value", f"{name} is not a finite number")
    return value


def _timestamp(text: str | None) -> datetime | None:
    """Unix seconds (or milliseconds, as some trackers send), or ISO 8601."""
    if not text:
        return None
    text = text[:40]
    try:
        number = float(text)
    except ValueError:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise PositionRefused(400, "bad_value", "timestamp is not a time") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not math.isfinite(number) or abs(number) > 1e14:
        raise PositionRefused(422, "out_of_range", "timestamp is out of range")
    if abs(number) > 1e11:  # milliseconds: 1e11 s is the year 5138
        number /= 1000
    try:
        return datetime.fromtimestamp(number, UTC)
    except (OverflowError, OSError, ValueError):
        raise PositionRefused(422, "out_of_range", "timestamp is out of range") from None


def osmand_reading(params: Mapping[str, str]) -> Reading:
    """One OsmAnd request's fields (query string or form) as a :class:`Reading`."""
    lat = _number(params, "lat", required=True)
    lon = _number(params, "lon", required=True)
    speed = _number(params, "speed")
    return Reading(
        lat=lat,  # type: ignore[arg-type]
        lon=lon,  # type: ignore[arg-type]
        at=_timestamp(params.get("timestamp")),
        accuracy_m=_number(params, "accuracy"),
        speed_kmh=None if speed is None else speed * KNOTS_TO_KMH,
        bearing=_number(params, "bearing"),
        battery=_number(params, "batt"),
    )


class _Json(BaseModel):
    # NaN and Infinity are not JSON, but Python's json module reads them: refuse them here.
    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)


class _Coords(_Json):
    latitude: float
    longitude: float
    accuracy: float | None = None
    speed: float | None = None
    heading: float | None = None


class _Battery(_Json):
    level: float | None = None


class _Location(_Json):
    timestamp: str | float | None = None
    coords: _Coords
    battery: _Battery | None = None


class TraccarJson(_Json):
    """The JSON body of Traccar Client 9+ (see the module docstring); other fields ignored."""

    location: _Location
    device_id: str | None = Field(None, max_length=64)


def _known(value: float | None) -> float | None:
    """The SDK's -1 (or any negative) means "not measured"."""
    return None if value is None or value < 0 else value


def traccar_json_reading(document: object) -> tuple[str | None, Reading]:
    """``(device_id, reading)`` from a parsed Traccar Client JSON body."""
    try:
        body = TraccarJson.model_validate(document)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "body"
        raise PositionRefused(400, "bad_value", f"{where} is missing or not valid") from None
    location = body.location
    coords = location.coords
    speed = _known(coords.speed)
    level = _known(location.battery.level) if location.battery else None
    stamp = location.timestamp
    return body.device_id, Reading(
        lat=coords.latitude,
        lon=coords.longitude,
        at=_timestamp(None if stamp is None else str(stamp)),
        accuracy_m=_known(coords.accuracy),
        speed_kmh=None if speed is None else speed * MPS_TO_KMH,
        bearing=_known(coords.heading),
        battery=None if level is None else level * 100,
    )


def check_reading(reading: Reading, now: datetime, keep_days: float) -> datetime:
    """Refuse what no unit could have measured; returns the reading's time."""
    if not (-90 <= reading.lat <= 90 and -180 <= reading.lon <= 180):
        raise PositionRefused(422, "out_of_range", "lat must be within ±90 and lon ±180")
    for name, value, top in (
        ("speed", reading.speed_kmh, 2000),
        ("accuracy", reading.accuracy_m, 1e6),
        ("bearing", reading.bearing, 360),
        ("batt", reading.battery, 100),
    ):
        if value is not None and not 0 <= value <= top:
            raise PositionRefused(422, "out_of_range", f"{name} must be within 0..{top:g}")
    at = reading.at or now
    if at > now + CLOCK_TOLERANCE:
        raise PositionRefused(422, "from_future", f"measured at {at.isoformat()}, after now")
    if at < now - timedelta(days=keep_days):
        raise PositionRefused(422, "too_old", "older than tracks are kept")
    return at


def check_jump(last_at: datetime | None, distance_m: float, at: datetime, max_kmh: float) -> None:
    """Refuse a point ``distance_m`` from the unit's newest one (measured at ``last_at``)
    that it could not have reached by ``at``."""
    if last_at is None:
        return
    seconds = (at - last_at).total_seconds()
    if seconds <= 0:
        raise PositionRefused(409, "out_of_order", "not newer than the unit's last position")
    kmh = max(0.0, distance_m - JUMP_SLACK_M) / seconds * 3.6
    if kmh > max_kmh:
        raise PositionRefused(
            422,
            "impossible_jump",
            f"{distance_m:.0f} m in {seconds:.0f} s is {kmh:.0f} km/h (limit {max_kmh:g})",
        )
