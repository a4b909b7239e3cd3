"""Site-file section ``integrations:``: the systems people already run next to VillageWatch.

- ``zigbee2mqtt``: ``villagewatch bridge zigbee2mqtt`` reads a Zigbee2MQTT base topic and
  speaks for each listed device as a VillageWatch sensor node (bridge/). Each device is named
  here by its Zigbee2MQTT *friendly name* and given a node id, an area and a kind; the node
  id becomes a broker identity of its own (``villagewatch provision NODE``), so the bridge
  holds one connection file per device and each identity can act only as itself.
- ``home_assistant``: the hub announces its sensors, cameras and open-incident count to a
  Home Assistant instance through MQTT discovery (hub/integrations/homeassistant.py).

Both are off unless configured::

    integrations:
      zigbee2mqtt:
        host: 127.0.0.1          # the broker Zigbee2MQTT publishes to
        port: 1885
        devices:
          - {friendly_name: back_door, node: z-back-door, area: plaza, kind: door}
      home_assistant: {enabled: true}
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from contract.protocol import Identifier, Severity

#: What a bridged device is: the sensor kinds of the site file (``sensors[].kind``) a Zigbee
#: device can be, which decide the Zigbee2MQTT property that raises its alarm and the alert
#: ``kind`` the hub sees (the same as a firmware node of that kind sends).
DeviceKind = Literal["door", "window", "pir", "water_leak", "smoke", "vibration", "panic_button"]

#: Alert severity of each kind unless the device says otherwise: the site file's defaults for
#: sensor nodes (life safety is critical, a fence that shakes in the wind is minor).
DEFAULT_SEVERITY: dict[str, Severity] = {
    "door": Severity.MAJOR,
    "window": Severity.MAJOR,
    "pir": Severity.MAJOR,
    "water_leak": Severity.MAJOR,
    "smoke": Severity.CRITICAL,
    "vibration": Severity.MINOR,
    "panic_button": Severity.CRITICAL,
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Zigbee2MqttDevice(_Section):
    """One Zigbee device and the VillageWatch node it becomes."""

    friendly_name: str = Field(
        min_length=1,
        max_length=128,
        description="the device's friendly name in Zigbee2MQTT (its topic under base_topic)",
    )
    node: Identifier = Field(description="the node id it speaks as (its broker username)")
    area: Identifier
    kind: DeviceKind
    severity: Severity | None = Field(None, description="default: by kind (smoke: critical)")
    actions: list[str] = Field(
        default_factory=list,
        description="panic buttons: the `action` values that alarm (empty: every action)",
    )

    @field_validator("friendly_name")
    @classmethod
    def _plain_topic_level(cls, value: str) -> str:
        # Zigbee2MQTT allows "/" in names (groups of levels) but never wildcards.
        if "+" in value or "#" in value or value.startswith("/") or value.endswith("/"):
            raise ValueError(f"{value!r}: a friendly name has no + or # and no leading/trailing /")
        return value

    @property
    def alert_severity(self) -> Severity:
        return self.severity or DEFAULT_SEVERITY[self.kind]


class Zigbee2MqttSettings(_Section):
    """Where Zigbee2MQTT publishes, and the devices to bridge."""

    host: str = Field("127.0.0.1", description="the broker Zigbee2MQTT publishes to")
    port: int = Field(1883, ge=1, le=65535)
    username: str | None = None
    password_file: str | None = Field(
        None, description="a file holding that broker's password (never the password itself)"
    )
    base_topic: str = Field("zigbee2mqtt", pattern=r"^[^+#]+$", description="Zigbee2MQTT's")
    connections_dir: str | None = Field(
        None, description="the devices' connection files (default: <broker data_dir>/nodes)"
    )
    data_dir: str = Field("var/bridge", description="the bridge's outbox (relative to config)")
    heartbeat_s: int = Field(300, ge=5, le=86_400, description="each device's heartbeat period")
    receipt_timeout_s: float = Field(30.0, gt=0, description="re-send an alert not receipted")
    devices: list[Zigbee2MqttDevice] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Zigbee2MqttSettings:
        for field in ("friendly_name", "node"):
            values = [getattr(d, field) for d in self.devices]
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ValueError(f"zigbee2mqtt devices: {field} must be unique: {dupes}")
        if (self.username is None) != (self.password_file is None):
            raise ValueError("zigbee2mqtt: give username and password_file together")
        return self


class HomeAssistantSettings(_Section):
    """Home Assistant MQTT discovery from the hub (off unless ``enabled``)."""

    enabled: bool = False
    discovery_prefix: str = Field("homeassistant", pattern=r"^[a-z0-9_-]+$")
    username: Identifier = Field(
        "homeassistant",
        description="Home Assistant's broker login (villagewatch provision USERNAME): it may "
        "read the discovery prefix and write <prefix>/status, nothing else",
    )

    def hub_topics(self) -> tuple[str, ...]:
        """What the broker ACL lets the hub identity read and write for discovery."""
        return (f"{self.discovery_prefix}/#",) if self.enabled else ()


class IntegrationSettings(_Section):
    zigbee2mqtt: Zigbee2MqttSettings | None = None
    home_assistant: HomeAssistantSettings = HomeAssistantSettings()

    def bridged_nodes(self) -> list[Zigbee2MqttDevice]:
        """Every device another system's bridge speaks for (each one a sensor node)."""
        return list(self.zigbee2mqtt.devices) if self.zigbee2mqtt else []


def check_bridged_devices(settings: IntegrationSettings, area_ids: set[str]) -> list[str]:
    """Raise ValueError for a device in an unknown area; return the broker usernames the
    integrations add, bridged node ids and Home Assistant's login (the site file checks
    them for clashes with gateways and sensors)."""
    for d in settings.bridged_nodes():
        if d.area not in area_ids:
            raise ValueError(
                f"zigbee2mqtt device {d.friendly_name!r} names area {d.area!r}; "
                f"known: {sorted(area_ids)}"
            )
    logins = [settings.home_assistant.username] if settings.home_assistant.enabled else []
    return [d.node for d in settings.bridged_nodes()] + logins
