"""The site configuration file: one pydantic model per section, unknown keys refused.

A site file describes one village or compound: its areas, the cameras of each gateway with
their zones, the sensor nodes, and the broker and hub settings. Load it with
:func:`load_site_config`; a mistake raises :class:`ConfigError` naming the file, the field
path and the fix, which the command line prints before exiting with status 2.

Coordinates of zones are fractions of the frame (0..1, origin top-left), so a zone stays
right when a camera's resolution changes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contract.bridge_settings import IntegrationSettings, check_bridged_devices
from contract.camera_settings import HealthSettings, PrivacySettings
from contract.detect_settings import DetectSettings as DetectSettings
from contract.event_settings import SiteEvent, check_event_feeds
from contract.hub_settings import HubSettings
from contract.place_settings import LatLon, SiteMap, check_placements
from contract.protocol import DEFAULT_TOPIC_ROOT, ID_PATTERN, Severity
from contract.rule_settings import KNOWN_LABELS as KNOWN_LABELS
from contract.rule_settings import (
    CrowdRule,
    GroundCalibration,
    LineRule,
    LoiterRule,
    NoParkingRule,
    check_camera_rules,
)
from contract.rule_settings import Schedule as Schedule
from contract.rule_settings import ZoneRule as ZoneRule
from contract.safety_settings import SafetySettings, check_safety_areas
from contract.sensor_kinds import DEFAULT_SENSOR_SEVERITY, SensorKind
from contract.sensor_settings import SensorSettings, check_sensor_areas
from contract.sharing_settings import SharingSettings
from contract.watchlist_settings import WatchlistSettings

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SiteInfo(_Section):
    id: Identifier = Field(description="short id used in topics, e.g. riverside")
    name: str = Field(description="human name shown to officers")
    timezone: str = Field("UTC", description="IANA zone for schedules, e.g. Asia/Shanghai")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"unknown time zone {value!r}; use an IANA name like Europe/London"
            raise ValueError(msg) from None
        return value


class Area(_Section):
    id: Identifier
    name: str
    position: LatLon | None = Field(None, description="its middle: where patrols are sent")
    outline: list[LatLon] = Field(
        default_factory=list, description="its boundary on the map (3+ points), optional"
    )

    @field_validator("outline")
    @classmethod
    def _polygon(cls, value: list[LatLon]) -> list[LatLon]:
        if value and len(value) < 3:
            raise ValueError("an outline needs at least 3 points")
        return value


class MotionSettings(_Section):
    threshold: int = Field(25, ge=1, le=255, description="grey-level change that counts")
    min_area: float = Field(0.0005, ge=0, le=1, description="smallest moving blob, frame share")
    frame_height: int = Field(120, ge=32, le=720, description="motion runs on a frame this high")


class Camera(_Section):
    name: Identifier
    source: str = Field(description="rtsp://, http:// or a video file path (relative to config)")
    detect_source: str | None = Field(
        None,
        description="the camera's low-resolution substream (e.g. 640x360) to detect on; "
        "snapshots then come from the newest frame of source, the main stream",
    )
    area: Identifier
    loop: bool = Field(False, description="restart a file source at its end (demo)")
    realtime: bool = Field(True, description="pace file sources at their frame rate")
    rtsp_transport: Literal["tcp", "udp"] = Field(
        "tcp",
        description="how an rtsp:// camera sends its video: tcp (interleaved in the RTSP "
        "connection; passes firewalls and NAT, never loses packets) or udp (less delay, but a "
        "lossy link shows as smeared frames; needs UDP ports open back to the gateway)",
    )
    motion: MotionSettings = MotionSettings()
    detect: DetectSettings = DetectSettings()
    zones: list[ZoneRule] = Field(default_factory=list)
    lines: list[LineRule] = Field(default_factory=list, description="counting lines")
    loitering: list[LoiterRule] = Field(default_factory=list)
    crowd: list[CrowdRule] = Field(default_factory=list, description="nested crowd rings")
    no_parking: list[NoParkingRule] = Field(default_factory=list, description="stopped vehicles")
    calibration: GroundCalibration | None = Field(None, description="ground plane, for /m²")
    privacy: PrivacySettings = PrivacySettings()
    health: HealthSettings = HealthSettings()
    position: LatLon | None = Field(None, description="where the camera is, for the map")
    plates: bool = Field(False, description="read vehicle plates here (contract/watchlist.py)")
    signage_confirmed: bool = Field(
        False, description="a sign tells people this camera may recognise faces (PIPL Art. 26)"
    )

    @model_validator(mode="after")
    def _consistent_rules(self) -> Camera:
        check_camera_rules(
            self.zones, self.lines, self.loitering, self.crowd, self.no_parking, self.calibration
        )
        return self


class Gateway(_Section):
    """A camera gateway: one edge agent, one broker identity, several cameras."""

    node: Identifier = Field(description="the gateway's node id (its broker username)")
    cameras: list[Camera] = Field(default_factory=list)
    data_dir: str = Field("var/edge", description="outbox and snapshots (relative to config)")


class SensorNode(_Section):
    """A sensor node (firmware_stubs/): its alerts carry ``kind`` (and ``tamper`` from the
    enclosure switch every node has)."""

    node: Identifier
    area: Identifier
    kind: SensorKind = "door"
    severity: Severity = Severity.MAJOR
    position: LatLon | None = Field(None, description="where the sensor is, for the map")

    @model_validator(mode="before")
    @classmethod
    def _severity_by_kind(cls, data: object) -> object:
        if isinstance(data, dict) and "severity" not in data:
            default = DEFAULT_SENSOR_SEVERITY.get(data.get("kind", "door"), Severity.MAJOR)
            return {**data, "severity": default}
        return data


class BrokerSettings(_Section):
    kind: Literal["auto", "mosquitto", "embedded", "external"] = Field(
        "auto", description="auto: mosquitto when installed, else the embedded broker"
    )
    host: str = "127.0.0.1"
    port: int = Field(1883, ge=0, le=65535, description="0 picks a free port")
    topic_root: str = Field(DEFAULT_TOPIC_ROOT, pattern=r"^[a-z0-9_-]+$")
    data_dir: str = Field("var/broker", description="config, passwords, ACL, persistence")
    hub_host: str = Field(
        "127.0.0.1", description="the hub's own listener: only hub identities may log in there"
    )
    hub_port: int = Field(1884, ge=0, le=65535, description="0 picks a free port")
    tls_port: int = Field(
        0, ge=0, le=65535, description="TLS listener for nodes (mosquitto only), e.g. 8883; 0: none"
    )
    tls_host: str | None = Field(
        None,
        description="the TLS listener's address (default: host); e.g. host 127.0.0.1 "
        "and tls_host 0.0.0.0 serve the LAN over TLS only",
    )
    tls_names: list[str] = Field(
        default_factory=list,
        description="names and addresses nodes dial, put in the generated server certificate",
    )
    tls_ca: str | None = Field(None, description="a CA the site already has (PEM file)")
    tls_cert: str | None = Field(None, description="its server certificate (PEM, full chain)")
    tls_key: str | None = Field(None, description="the certificate's private key (PEM)")

    @model_validator(mode="after")
    def _tls_files_together(self) -> BrokerSettings:
        given = [f for f in (self.tls_ca, self.tls_cert, self.tls_key) if f]
        if given and len(given) != 3:
            raise ValueError("tls_ca, tls_cert and tls_key go together: give all three or none")
        ports = [p for p in (self.port, self.hub_port, self.tls_port) if p]
        if len(ports) != len(set(ports)):
            raise ValueError("port, hub_port and tls_port must differ (0 picks a free one)")
        return self


class SiteConfig(_Section):
    version: Literal[1] = 1
    site: SiteInfo
    areas: list[Area] = Field(min_length=1)
    gateways: list[Gateway] = Field(default_factory=list)
    sensors: list[SensorNode] = Field(default_factory=list)
    sensor_settings: SensorSettings = SensorSettings()  # health, arming, two sensors agree
    broker: BrokerSettings = BrokerSettings()
    hub: HubSettings = HubSettings()
    integrations: IntegrationSettings = IntegrationSettings()  # contract/bridge_settings.py
    watchlists: WatchlistSettings = WatchlistSettings()  # contract/watchlist_settings.py
    map: SiteMap | None = Field(None, description="the site plan officers see (no internet needed)")
    events: list[SiteEvent] = Field(default_factory=list)  # contract/event_settings.py
    safety: SafetySettings = SafetySettings()  # the safety index (contract/safety_settings.py)
    sharing: SharingSettings = SharingSettings()  # departments' data (contract/sharing_settings.py)
    #: The file this config came from; relative paths are resolved against its folder.
    base_dir: Path = Field(Path("."), exclude=True)

    @model_validator(mode="after")
    def _cross_references(self) -> SiteConfig:
        area_ids = {a.id for a in self.areas}
        for g in self.gateways:
            for c in g.cameras:
                if c.area not in area_ids:
                    raise ValueError(
                        f"camera {c.name!r} names area {c.area!r}; known: {sorted(area_ids)}"
                    )
        for s in self.sensors:
            if s.area not in area_ids:
                raise ValueError(
                    f"sensor {s.node!r} names area {s.area!r}; known: {sorted(area_ids)}"
                )
        check_sensor_areas(self.sensor_settings, area_ids)
        check_safety_areas(self.safety, area_ids)
        nodes = [g.node for g in self.gateways] + [s.node for s in self.sensors]
        nodes += check_bridged_devices(self.integrations, area_ids)
        dupes = sorted({n for n in nodes if nodes.count(n) > 1})
        if dupes:
            raise ValueError(f"node ids must be unique across gateways, sensors, bridged: {dupes}")
        check_event_feeds(self.events, self._crowd_rings(), area_ids)
        if self.map is not None:
            check_placements(self.map, self.resolve(self.map.image), self._placed_points())
        return self

    def _crowd_rings(self) -> dict[str, dict[str, set[str]]]:
        """camera -> crowd rule -> its ring names, for the events' feeds."""
        return {
            c.name: {r.name: {n for n, ring in r.rings() if ring} for r in c.crowd}
            for g in self.gateways
            for c in g.cameras
        }

    def _placed_points(self) -> list[tuple[str, LatLon]]:
        """Every position the site file gives, named by its field path."""
        points: list[tuple[str, LatLon]] = []
        for i, a in enumerate(self.areas):
            points += [(f"areas[{i}].position", a.position)] if a.position else []
            points += [(f"areas[{i}].outline[{j}]", p) for j, p in enumerate(a.outline)]
        for i, g in enumerate(self.gateways):
            for j, c in enumerate(g.cameras):
                if c.position:
                    points.append((f"gateways[{i}].cameras[{j}].position", c.position))
        for i, s in enumerate(self.sensors):
            if s.position:
                points.append((f"sensors[{i}].position", s.position))
        for i, e in enumerate(self.events):  # rings drawn off the plan: a lat/lon mix-up
            for name, ring in e.rings.present():
                where = f"events[{i}].rings.{name}.polygon"
                points += [(f"{where}[{j}]", p) for j, p in enumerate(ring.polygon)]
        return points

    def resolve(self, path: str) -> Path:
        """A file path from the config, made absolute against the config file's folder."""
        p = Path(path)
        return p if p.is_absolute() else self.base_dir / p

    def resolve_source(self, source: str) -> str:
        """A camera source: URLs (rtsp://, http://) as they are, file paths made absolute."""
        return source if re.match(r"^[a-z][a-z0-9+.-]*://", source) else str(self.resolve(source))

    def gateway(self, node: str) -> Gateway:
        for g in self.gateways:
            if g.node == node:
                return g
        raise KeyError(f"no gateway {node!r} in site {self.site.id!r}")


class ConfigError(Exception):
    """A config file that cannot be used. ``str()`` is the whole message for the user."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = Path(path)
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"config error in {self.path}:\n{lines}")


_FIX_HINTS = {
    "extra_forbidden": "remove it or check its spelling",
    "missing": "add it",
    "literal_error": "use one of the listed values",
    "string_pattern_mismatch": "use lowercase letters, digits, '_' or '-'",
}


def _describe(err: dict) -> str:
    loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
    where = loc or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown field"
    hint = _FIX_HINTS.get(err["type"])
    return f"{where}: {msg}" + (f" ({hint})" if hint else "")


def parse_site_config(data: object, path: Path | str = "<memory>") -> SiteConfig:
    """Validate already-parsed YAML/JSON data as a site config."""
    path = Path(path)
    if not isinstance(data, dict):
        raise ConfigError(path, [f"(top level): expected a mapping, got {type(data).__name__}"])
    try:
        return SiteConfig.model_validate({**data, "base_dir": path.parent.resolve()})
    except ValidationError as exc:
        raise ConfigError(path, [_describe(e) for e in exc.errors()]) from None


def load_site_config(path: Path | str) -> SiteConfig:
    """Read and validate a site file. Raises :class:`ConfigError` on any problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, ["file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, [f"cannot read: {exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ConfigError(
            path, [f"not valid YAML at {where}: {getattr(exc, 'problem', exc)}"]
        ) from None
    return parse_site_config(data, path)
