"""Event security across cameras: the site file's ``events`` section.

An *event* (a fireworks night, a temple fair, a market day) has a time window and up to
three nested rings drawn on the site map, the event-security model of the cameras' own crowd
rule (:class:`contract.rule_settings.CrowdRule`): *diversion* (outermost: traffic is
diverted), *control* (access is controlled) and *core* (the stage front). Rings are bands,
as on the cameras: a person counts in the innermost ring that holds them.

The cameras count; the hub adds up. Each camera's crowd rule counts people per *image* ring
and sends the counts in its stats (``CameraStats.rings``); a ``feed`` says which event ring
one camera ring feeds. Cameras that see the same ground would count the same people twice,
so feeds carry an ``overlap`` group: within a group the hub takes the **largest** count,
across groups (and ungrouped feeds) it **adds**. ``docs/events.md`` says why and what that
costs.

Example::

    events:
      - id: fireworks
        name: Lantern festival fireworks
        starts_at: 2026-02-12T18:00:00+08:00
        ends_at: 2026-02-12T23:30:00+08:00
        area: square
        rings:
          core: {polygon: [{lat: .., lon: ..}, ...], limit: 400, density_limit: 4}
          control: {polygon: [...], limit: 2000}
        feeds:
          - {camera: square_north, crowd: stage, ring: core, overlap: stage}
          - {camera: square_south, crowd: stage, ring: core, overlap: stage}
          - {camera: square_south, crowd: stage, ring: control}
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contract.place_settings import LatLon
from contract.protocol import ID_PATTERN, MAX_YEAR, MIN_YEAR, Severity

RingName = Literal["diversion", "control", "core"]
#: Outermost first, the order of :meth:`contract.rule_settings.CrowdRule.rings`.
RING_ORDER: tuple[RingName, ...] = ("diversion", "control", "core")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EventRing(_Section):
    """One ring of an event: its outline on the site map and its limits."""

    polygon: list[LatLon] = Field(min_length=3, max_length=200, description="WGS84 outline")
    limit: int | None = Field(None, ge=1, description="most people the ring may hold")
    density_limit: float | None = Field(
        None, gt=0, le=10, description="most people per m² (the ring's band area on the map)"
    )


class EventRings(_Section):
    """The event's rings; at least one."""

    diversion: EventRing | None = None
    control: EventRing | None = None
    core: EventRing | None = None

    @model_validator(mode="after")
    def _some(self) -> EventRings:
        if not self.present():
            raise ValueError("give at least one ring: diversion, control or core")
        return self

    def present(self) -> list[tuple[RingName, EventRing]]:
        """(name, ring) outermost first, the rings given."""
        return [(n, r) for n in RING_ORDER if (r := getattr(self, n)) is not None]


class RingFeed(_Section):
    """One camera ring feeding one event ring."""

    camera: str = Field(pattern=ID_PATTERN, description="the camera's name")
    crowd: str = Field(description="the name of the camera's crowd rule")
    ring: RingName = Field(description="the crowd rule's ring (image polygon) that counts")
    feeds: RingName | None = Field(None, description="the event ring it feeds; default: same")
    overlap: str | None = Field(
        None,
        pattern=ID_PATTERN,
        description="feeds of one event ring with the same group see the same ground: the hub "
        "takes their largest count instead of their sum",
    )
    at: LatLon | None = Field(
        None, description="middle of the ground this camera ring sees (heat map); default: camera"
    )

    @property
    def target(self) -> RingName:
        return self.feeds or self.ring


class SiteEvent(_Section):
    """An event: a window, rings on the map, and the camera rings that count in them."""

    id: str = Field(pattern=ID_PATTERN, max_length=40)
    name: str = Field(min_length=1, max_length=120)
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    area: str | None = Field(None, description="the site area its incidents are filed under")
    rings: EventRings
    feeds: list[RingFeed] = Field(default_factory=list, max_length=200)
    severity: Severity = Field(Severity.MAJOR, description="of a ring-over-limit incident")
    over_samples: int = Field(
        2, ge=1, le=100, description="samples in a row over a limit before an incident opens"
    )
    rearm_below: float = Field(
        0.8, gt=0, le=1, description="a ring alerts again after falling below this share"
    )
    stale_after_s: float = Field(
        120, ge=5, le=3600, description="a camera count older than this is left out (unhealthy)"
    )
    keep_days: int = Field(365, ge=1, le=3650, description="keep the series this long after it")

    @model_validator(mode="after")
    def _consistent(self) -> SiteEvent:
        if not self.starts_at < self.ends_at:
            raise ValueError("starts_at must be before ends_at")
        if self.starts_at.year < MIN_YEAR or self.ends_at.year > MAX_YEAR:
            # The series' keep date is computed from ends_at: it must stay in the calendar.
            raise ValueError(f"an event lies within the years {MIN_YEAR}..{MAX_YEAR}")
        given = {n for n, _ in self.rings.present()}
        seen: set[tuple[str, str, str]] = set()
        for i, f in enumerate(self.feeds):
            if f.target not in given:
                raise ValueError(f"feeds[{i}] feeds ring {f.target!r}, which the event lacks")
            key = (f.camera, f.crowd, f.ring)
            if key in seen:
                raise ValueError(f"feeds[{i}]: {'/'.join(key)} feeds twice (one ring each)")
            seen.add(key)
        return self

    def active_at(self, when: datetime) -> bool:
        return self.starts_at <= when < self.ends_at


def check_event_feeds(
    events: list[SiteEvent],
    crowd_rings: dict[str, dict[str, set[str]]],
    area_ids: set[str],
) -> None:
    """Every feed names a camera, one of its crowd rules and a ring that rule has
    (``crowd_rings``: camera -> rule -> ring names), and every area is known; event ids are
    unique. Raises ValueError naming the first problem."""
    ids = [e.id for e in events]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"event ids must be unique: {dupes}")
    for e in events:
        if e.area is not None and e.area not in area_ids:
            raise ValueError(f"event {e.id!r} names area {e.area!r}; known: {sorted(area_ids)}")
        for i, f in enumerate(e.feeds):
            rules = crowd_rings.get(f.camera)
            where = f"event {e.id!r} feeds[{i}]"
            if rules is None:
                raise ValueError(f"{where}: no camera {f.camera!r}")
            if f.crowd not in rules:
                raise ValueError(f"{where}: camera {f.camera!r} has no crowd rule {f.crowd!r}")
            if f.ring not in rules[f.crowd]:
                raise ValueError(f"{where}: crowd rule {f.crowd!r} has no {f.ring!r} ring")


def ring_key(crowd: str, ring: str) -> str:
    """The key of one crowd rule ring in ``CameraStats.rings``: ``rule/ring``."""
    return f"{crowd}/{ring}"
