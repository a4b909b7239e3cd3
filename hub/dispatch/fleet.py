"""The fleet: patrol units, their OsmAnd trackers and their positions.

:class:`Fleet` is the half of :class:`hub.dispatch.service.DispatchService` that knows where
units are; the other half sends them. Every position goes through
:mod:`hub.dispatch.positions` first and, once stored, moves the unit on the live map
(:class:`~hub.events.UnitChanged`, change ``position``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid

from contract.place_settings import DispatchSettings
from contract.siteconfig import SiteConfig
from hub.clock import Clock, system_clock
from hub.dispatch.errors import (
    DispatchConflict,
    InvalidDispatch,
    NotYourUnit,
    PositionRefused,
    UnitNotFound,
)
from hub.dispatch.positions import Reading, check_jump, check_reading
from hub.dispatch.ranking import haversine_m
from hub.domain.units import Availability, Position, PositionSource, Tracker, Unit, UnitKind
from hub.domain.users import Role, User
from hub.events import EventBus, UnitChanged
from hub.storage.repositories import Storage
from hub.storage.units import CallsignTaken


def token_hash(token: str) -> str:
    """A tracker token's SHA-256: the token is 32 random bytes, so no slow hash is needed."""
    return hashlib.sha256(token.encode()).hexdigest()


class Fleet:
    """Units, trackers and positions (see the module docstring)."""

    def __init__(
        self,
        storage: Storage,
        bus: EventBus,
        config: SiteConfig | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.storage = storage
        self.bus = bus
        self.config = config
        self.settings: DispatchSettings = config.hub.dispatch if config else DispatchSettings()
        self.clock = clock

    # --- units -----------------------------------------------------------------------------

    def units(self) -> list[Unit]:
        return self.storage.units.all()

    def unit(self, unit_id: str) -> Unit:
        unit = self.storage.units.get(unit_id)
        if unit is None:
            raise UnitNotFound(f"no unit {unit_id}")
        return unit

    def units_of(self, username: str) -> list[Unit]:
        return self.storage.units.of_member(username)

    def _known_members(self, members: list[str]) -> list[str]:
        unknown = [m for m in members if self.storage.users.get(m) is None]
        if unknown:
            raise InvalidDispatch(f"no such users: {', '.join(sorted(unknown))}")
        return sorted(set(members))

    def create_unit(self, callsign: str, kind: UnitKind, members: list[str]) -> Unit:
        now = self.clock()
        unit = Unit(
            id=uuid.uuid4().hex,
            callsign=callsign,
            kind=kind,
            members=self._known_members(members),
            availability=Availability.AVAILABLE,
            created_at=now,
            updated_at=now,
        )
        try:
            created = self.storage.units.create(unit)
        except CallsignTaken as exc:
            raise DispatchConflict(str(exc)) from None
        self.bus.publish(UnitChanged(unit=created, change="created"))
        return created

    def update_unit(self, unit_id: str, who: User, **changes) -> Unit:
        """Supervisors change anything; a member may only set its unit's availability.
        ``busy`` is the assignment's to set and clear, never a person's."""
        changes = {k: v for k, v in changes.items() if v is not None}
        with self.storage.transaction():
            unit = self.unit(unit_id)
            supervisor = who.role.includes(Role.SUPERVISOR)
            if not supervisor and (
                who.username not in unit.members or set(changes) - {"availability"}
            ):
                raise NotYourUnit("only supervisors change units; members set availability")
            availability = changes.get("availability")
            if availability is Availability.BUSY:
                raise InvalidDispatch("a unit is busy only while it has an assignment")
            if availability is not None and unit.availability is Availability.BUSY:
                raise DispatchConflict(f"{unit.callsign} is on an assignment: release it first")
            if "members" in changes:
                changes["members"] = self._known_members(changes["members"])
            try:
                saved = self.storage.units.save(
                    unit.model_copy(update=changes | {"updated_at": self.clock()})
                )
            except CallsignTaken as exc:
                raise DispatchConflict(str(exc)) from None
        self.bus.publish(UnitChanged(unit=saved, change="updated"))
        return saved

    # --- trackers --------------------------------------------------------------------------

    def add_tracker(
        self, unit_id: str, name: str, device_id: str | None = None
    ) -> tuple[Tracker, str]:
        """A new OsmAnd device for the unit and its token (shown once, stored as a hash)."""
        self.unit(unit_id)
        token = secrets.token_urlsafe(32)
        tracker = Tracker(
            id=device_id or secrets.token_hex(6),
            unit_id=unit_id,
            name=name,
            created_at=self.clock(),
        )
        try:
            self.storage.units.add_tracker(tracker, token_hash(token))
        except KeyError:
            raise DispatchConflict(f"a tracker is called {tracker.id} already") from None
        return tracker, token

    def trackers(self, unit_id: str) -> list[Tracker]:
        self.unit(unit_id)
        return self.storage.units.trackers(unit_id)

    # --- positions -------------------------------------------------------------------------

    def osmand_position(self, token: str, device_id: str | None, reading: Reading) -> Position:
        """A position from an OsmAnd device: ``device_id`` must be a tracker, ``token`` its."""
        found = self.storage.units.tracker(device_id) if device_id else None
        if found is None:
            raise PositionRefused(404, "unknown_tracker", f"no tracker {device_id!r}")
        tracker, expected = found
        if not hmac.compare_digest(token_hash(token), expected):
            raise PositionRefused(403, "wrong_token", "this token is not that tracker's")
        return self.record_position(tracker.unit_id, reading, PositionSource.OSMAND)

    def app_position(self, who: User, unit_id: str | None, reading: Reading) -> Position:
        """A position from the officer app: a patrol's own unit (the only one it is in, or
        ``unit_id``); the duty desk may place any unit (``desk``: a radio call)."""
        desk = who.role.includes(Role.OFFICER)
        if unit_id is None:
            mine = self.units_of(who.username)
            if len(mine) != 1:
                raise InvalidDispatch(f"name the unit (unit_id): you are in {len(mine)} units")
            unit = mine[0]
        else:
            unit = self.unit(unit_id)
        member = who.username in unit.members
        if not member and not desk:
            raise NotYourUnit(f"you are not a member of {unit.callsign}")
        source = PositionSource.APP if member else PositionSource.DESK
        return self.record_position(unit.id, reading, source)

    def record_position(self, unit_id: str, reading: Reading, source: PositionSource) -> Position:
        """Check and store one position of the unit; raises PositionRefused (nothing stored)."""
        now = self.clock()
        at = check_reading(reading, now, self.settings.positions_days)
        with self.storage.transaction():  # the check and the write see the same last point
            unit = self.unit(unit_id)
            last = unit.position
            if last is not None:
                distance = haversine_m(last.lat, last.lon, reading.lat, reading.lon)
                check_jump(last.at, distance, at, self.settings.max_speed_kmh)
            position = Position(
                unit_id=unit_id,
                lat=reading.lat,
                lon=reading.lon,
                at=at,
                accuracy_m=reading.accuracy_m,
                speed_kmh=reading.speed_kmh,
                bearing=reading.bearing,
                battery=reading.battery,
                source=source,
            )
            self.storage.units.add_position(position)
        moved = unit.model_copy(update={"position": position})
        self.bus.publish(UnitChanged(unit=moved, change="position"))
        return position
