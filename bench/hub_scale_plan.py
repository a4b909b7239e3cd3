"""The story behind ``bench/hub_scale_data.py``'s month of a busy site: who sends alerts,
and how each incident unfolds, before anything is a row.

Three sites, four areas each; every area has a camera gateway with two cameras, a door sensor
and a motion sensor. Security incidents of one area never overlap within the correlation
window (the correlator would have merged them), so each area has its own timeline; each
gathers ~N/M alerts a few seconds apart, from the camera that saw it first and now and then a
neighbouring sensor. Maintenance incidents (a stream lost, a lens covered, a flat battery)
repeat the same trouble of one camera and are often cleared by the node itself. A few
incidents come from phone calls and another system, with no alerts. About 2 % are still open,
all among the last three days; the others went through acknowledge → dispatch → en route →
on scene → resolve (or a shorter path, or a cancel), with the times a duty desk takes.

``bench/hub_scale_live.py`` draws its new alerts from the same sources and wording.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

SITES = {
    "riverside": ("plaza", "north-gate", "car-park", "school-lane"),
    "hillcrest": ("market", "church-yard", "bus-stop", "playground"),
    "millbrook": ("mill-yard", "footbridge", "depot", "clinic"),
}
#: kind → (weight on a camera, {severity: weight}, zones, message)
CAMERA_KINDS = {
    "intrusion": (50, {"major": 70, "critical": 10, "minor": 20}, ("lawn", "yard"),
                  "person in zone {}"),
    "loitering": (15, {"minor": 80, "warning": 20}, ("entrance",), "person lingering in {}"),
    "line_crossing": (15, {"warning": 70, "info": 30}, ("path",), "person crossed {} (in)"),
    "no_parking": (12, {"minor": 100}, ("bay",), "vehicle parked in {}"),
    "crowd": (8, {"major": 70, "critical": 30}, ("square",), "crowd over the limit in {}"),
}  # fmt: skip
SENSOR_KINDS = {
    "door": (100, {"major": 100}, (None,), "door opened"),
    "motion": (100, {"warning": 100}, (None,), "movement detected"),
}
MAINTENANCE = {"camera": {"stream_lost": "major", "lens_covered": "major", "blinded": "minor"},
               "sensor": {"battery_low": "warning", "node_offline": "major"}}  # fmt: skip
OFFICERS = [f"officer-{n:02d}" for n in range(1, 13)]
WINDOW_S = 121  # one second past the correlation window: separate incidents


@dataclass(frozen=True)
class Source:
    """One camera or sensor: who sends an area's alerts."""

    site: str
    node: str
    area: str
    camera: str | None
    kinds: dict

    @property
    def role(self) -> str:
        return "camera_gateway" if self.camera else "sensor"


def topology() -> dict[str, list[Source]]:
    """Sources by area."""
    areas: dict[str, list[Source]] = {}
    for site, names in SITES.items():
        for area in names:
            cams = [Source(site, f"gw-{area}", area, f"{area}-{s}", CAMERA_KINDS) for s in "ew"]
            sensors = [
                Source(site, f"{area}-{kind}", area, None, {kind: SENSOR_KINDS[kind]})
                for kind in SENSOR_KINDS
            ]
            areas[area] = cams + sensors
    return areas


def pick(rng: random.Random, weighted: dict) -> str:
    keys = list(weighted)
    weights = [w[0] if isinstance(w, tuple) else w for w in weighted.values()]
    return rng.choices(keys, weights)[0]


def wording(rng: random.Random, source: Source, kind: str, cleared: bool = False):
    """``(severity, zone, message)`` of one ``kind`` alert from ``source``: a trouble's own
    severity (``info`` once the node ``cleared`` it), or a security kind's weighted choice."""
    troubles = MAINTENANCE["camera" if source.camera else "sensor"]
    if kind in troubles:
        message = kind.replace("_", " ")
        return ("info", None, f"{message}: cleared") if cleared else (troubles[kind], None, message)
    _, severities, zones, text = source.kinds[kind]
    severity, zone = pick(rng, severities), rng.choice(zones)
    return severity, zone, text.format(zone)


@dataclass(slots=True)
class Plan:
    """One incident before it has times: where, what, how many alerts, how it ends."""

    area: str
    category: str  # security | maintenance
    source: str  # alerts | call | external
    origin: Source
    kind: str
    offsets: list[float]  # each alert's seconds after the first
    opened: float = 0.0
    state: str = "new"
    times: dict = field(default_factory=dict)  # milestone column → epoch seconds
    steps: list = field(default_factory=list)  # (action, from, to, at, actor, outcome)
    cleared: bool = False  # the node's own "cleared" alert resolved it

    @property
    def last_alert(self) -> float:
        return self.opened + (self.offsets[-1] if self.offsets else 0.0)


def plan(n_incidents: int, n_alerts: int, start: float, end: float, rng: random.Random):
    """Incidents in opened order, with alert counts summing to ``n_alerts``."""
    areas = topology()
    plans = []
    for _ in range(n_incidents):
        area = rng.choice(list(areas))
        origin = rng.choices(areas[area], [35, 35, 15, 15])[0]
        r = rng.random()
        source = "call" if r < 0.03 else "external" if r < 0.04 else "alerts"
        maintenance = source == "alerts" and rng.random() < 0.04
        if maintenance:
            kinds = MAINTENANCE["camera" if origin.camera else "sensor"]
            kind, category = rng.choice(list(kinds)), "maintenance"
        elif source == "alerts":
            kind, category = pick(rng, origin.kinds), "security"
        else:
            kind = rng.choice(("suspicious_person", "burglary", "vandalism", "theft"))
            category = "security"
        plans.append(Plan(area, category, source, origin, kind, []))
    spread_alerts([p for p in plans if p.source == "alerts"], n_alerts, rng)
    place_in_time(plans, start, end, rng)
    plans.sort(key=lambda p: p.opened)
    return plans


def spread_alerts(plans: list[Plan], n_alerts: int, rng: random.Random) -> None:
    mean = n_alerts / len(plans)
    counts = [max(1, round(rng.uniform(0.1, 1.9) * mean)) for _ in plans]
    diff = n_alerts - sum(counts)
    while diff:
        j = rng.randrange(len(counts))
        if diff > 0 or counts[j] > 1:
            counts[j] += 1 if diff > 0 else -1
            diff += -1 if diff > 0 else 1
    for p, count in zip(plans, counts, strict=True):
        # Security alerts a few seconds apart; a broken camera repeats itself every minutes.
        low, high = (30, 600) if p.category == "maintenance" else (2, 20)
        t, p.offsets = 0.0, [0.0]
        for _ in range(count - 1):
            t += rng.uniform(low, high)
            p.offsets.append(t)


def place_in_time(plans: list[Plan], start: float, end: float, rng: random.Random) -> None:
    """Security incidents of one area one after the other, a window apart; the rest at
    random. Everything ends a minute before ``end``."""
    span = end - start
    by_area: dict[str, list[Plan]] = {}
    for p in plans:
        if p.category == "security" and p.source == "alerts":
            by_area.setdefault(p.area, []).append(p)
        else:
            p.opened = rng.uniform(0, max(1.0, span - (p.offsets[-1] if p.offsets else 0)))
    for area_plans in by_area.values():
        busy = sum(p.offsets[-1] + WINDOW_S for p in area_plans)
        mean_gap = max(5.0, (span - busy) / len(area_plans))
        t = 0.0
        for p in area_plans:
            p.opened = t
            t = p.last_alert + WINDOW_S + rng.expovariate(1 / mean_gap)
    shift = end - 60 - max(p.last_alert for p in plans)
    for p in plans:
        p.opened += shift


def decide_fates(plans: list[Plan], end: float, rng: random.Random) -> None:
    """~2 % stay open (chosen among the last three days); the rest were resolved or
    cancelled, unless their ending would lie in the future (then they are open too)."""
    recent = [p for p in plans if p.opened >= end - 3 * 86400]
    for p in rng.sample(recent, min(len(recent), round(0.02 * len(plans)))):
        p.state = "open"
    for p in plans:
        lifecycle(p, rng, end)


def lifecycle(p: Plan, rng: random.Random, end: float) -> None:
    officer, u = rng.choice(OFFICERS), rng.uniform
    path: list[tuple[str, str, float]]  # (action, to_state, at)
    ack = p.opened + u(10, 240)
    full = [("acknowledge", "acknowledged", ack)]
    for action, to, low, high in (("dispatch", "dispatched", 20, 300),
                                  ("en_route", "en_route", 10, 120),
                                  ("arrive", "on_scene", 120, 900)):  # fmt: skip
        full.append((action, to, full[-1][2] + u(low, high)))
    outcome = None
    if p.state == "open":
        path = full[: rng.choices([0, 1, 2, 3, 4], [30, 25, 15, 10, 20])[0]]
    elif rng.random() < 0.13:
        path = full[: rng.randint(0, 1)]
        at = max(path[-1][2] if path else p.opened, p.last_alert) + u(30, 600)
        path.append(("cancel", "cancelled", at))
    elif p.category == "maintenance" and rng.random() < 0.6:
        p.cleared, outcome = True, "handled"
        path = [("resolve", "resolved", p.last_alert)]
    else:
        dispatched = p.category == "security" and rng.random() < 0.55
        path = full if dispatched else full[:1]
        outcomes = {"handled": 60, "arrest": 10, "no_trace": 30} if dispatched else {
            "false_alarm": 60, "no_trace": 25, "duplicate": 15}  # fmt: skip
        outcome = pick(rng, outcomes)
        path.append(("resolve", "resolved", max(path[-1][2], p.last_alert) + u(60, 1800)))
    state, milestones = "new", {}
    column = {"acknowledged": "acknowledged_at", "dispatched": "dispatched_at",
              "en_route": "en_route_at", "on_scene": "on_scene_at",
              "resolved": "resolved_at", "cancelled": "resolved_at"}  # fmt: skip
    for action, to, at in path:
        if at > end - 1:
            break  # that has not happened yet: the incident is still open
        actor = "system" if p.cleared else officer
        final = outcome if action == "resolve" else None
        p.steps.append((action, state, to, at, actor, final))
        milestones.setdefault(column[to], at)
        if to == "dispatched":
            milestones.setdefault("acknowledged_at", at)
        state = to
    p.state, p.times = state, milestones
    p.times["outcome"] = outcome if state == "resolved" else None
    p.times["now"] = end
