"""What the hub announces to Home Assistant: one MQTT discovery config per entity.

Home Assistant's MQTT integration creates an entity for each retained config it reads on
``<prefix>/<component>/<node>/<object>/config``
(https://www.home-assistant.io/integrations/mqtt/#mqtt-discovery). The site file says what
exists, so the configs come from it alone:

- every sensor node (``sensors:`` and the devices a bridge speaks for): a ``binary_sensor``
  of the device class its kind means (door, motion, moisture, smoke ...), a ``tamper``
  ``binary_sensor`` and a ``battery`` ``sensor``;
- every camera: an ``image`` entity showing its latest alert snapshot (a JPEG on
  ``image_topic``);
- the hub: a ``sensor`` counting open security incidents.

Each entity's state lives next to its config, on ``<prefix>/<component>/<node>/<object>/state``
(Home Assistant subscribes only to ``.../config`` there), so Home Assistant needs to read the
discovery prefix and nothing of VillageWatch's own topics. Every entity is ``unavailable``
while the hub is away: their ``availability_topic`` is the hub integration's own, whose last
will says ``offline``.
"""

from __future__ import annotations

from dataclasses import dataclass

from contract.siteconfig import SiteConfig

#: A sensor kind's Home Assistant binary_sensor device class
#: (https://www.home-assistant.io/integrations/binary_sensor/#device-class).
DEVICE_CLASS = {
    "door": "door",
    "window": "window",
    "pir": "motion",
    "glass_break": "safety",
    "panic_button": "safety",
    "smoke": "smoke",
    "heat": "heat",
    "water_leak": "moisture",
    "vibration": "vibration",
}
#: Kinds that report a moment, never an "over" (a press, a movement): Home Assistant turns
#: them off by itself this many seconds after the alert.
MOMENTARY_OFF_S = {"pir": 60, "glass_break": 60, "panic_button": 60, "vibration": 60}
#: Heartbeat ``state`` values that mean "on" for the binary_sensor (others mean off).
HUB_DEVICE = "hub"


@dataclass(frozen=True)
class Entity:
    """One Home Assistant entity: where its config and state go, and the config itself."""

    component: str
    node: str
    object_id: str
    config: dict

    def topic(self, prefix: str, leaf: str) -> str:
        return f"{prefix}/{self.component}/{self.node}/{self.object_id}/{leaf}"


@dataclass(frozen=True)
class SensorInfo:
    """A sensor node as Home Assistant sees it."""

    node: str
    area: str
    kind: str


def sensor_nodes(config: SiteConfig) -> list[SensorInfo]:
    """Firmware sensor nodes and bridged devices alike."""
    native = [SensorInfo(s.node, s.area, s.kind) for s in config.sensors]
    bridged = [SensorInfo(d.node, d.area, d.kind) for d in config.integrations.bridged_nodes()]
    return native + bridged


def availability_topic(config: SiteConfig) -> str:
    prefix = config.integrations.home_assistant.discovery_prefix
    return f"{prefix}/villagewatch/{config.site.id}/availability"


#: The fixed fields of each sensor node's three entities (its state entity adds a device
#: class by kind, and an ``off_delay`` for momentary kinds).
_BINARY = {"payload_on": "ON", "payload_off": "OFF"}
_TAMPER = {"name": "Tamper", "device_class": "tamper", **_BINARY, "entity_category": "diagnostic"}
_BATTERY = {
    "name": "Battery",
    "device_class": "battery",
    "unit_of_measurement": "%",
    "state_class": "measurement",
    "entity_category": "diagnostic",
}


class _Builder:
    """Complete configs of one site: topics, unique ids, device and availability."""

    def __init__(self, config: SiteConfig) -> None:
        self.prefix = config.integrations.home_assistant.discovery_prefix
        self.site, self.site_name = config.site.id, config.site.name
        self.areas = {a.id: a.name for a in config.areas}
        self.common = {
            "availability_topic": availability_topic(config),
            "payload_available": "online",
            "payload_not_available": "offline",
        }

    def device(self, node: str, model: str, area: str | None = None) -> dict:
        d = {
            "identifiers": [f"villagewatch_{self.site}_{node}"],
            "name": f"{self.site_name} {node}",
            "manufacturer": "VillageWatch",
            "model": model,
        }
        if area:
            d["suggested_area"] = self.areas[area]
        if node != HUB_DEVICE:  # everything reaches Home Assistant through the hub
            d["via_device"] = f"villagewatch_{self.site}_{HUB_DEVICE}"
        return d

    def entity(self, component: str, node: str, obj: str, device: dict, fields: dict) -> Entity:
        leaf = "image_topic" if component == "image" else "state_topic"
        state = Entity(component, node, obj, {}).topic(self.prefix, "state")
        config = {
            "unique_id": f"vw_{self.site}_{node}_{obj}",
            **fields,
            leaf: state,
            **self.common,
            "device": device,
        }
        return Entity(component, node, obj, config)


def discovery_entities(config: SiteConfig) -> list[Entity]:
    """Every entity of the site, each config complete (topics included)."""
    b = _Builder(config)
    hub = b.device(HUB_DEVICE, "community hub")
    incidents = {"name": "Open incidents", "state_class": "measurement", "icon": "mdi:shield-alert"}
    out = [b.entity("sensor", HUB_DEVICE, "open_incidents", hub, incidents)]
    for s in sensor_nodes(config):
        dev = b.device(s.node, f"{s.kind} sensor", s.area)
        state = {
            "name": s.kind.replace("_", " ").capitalize(),
            "device_class": DEVICE_CLASS[s.kind],
            **_BINARY,
            **({"off_delay": MOMENTARY_OFF_S[s.kind]} if s.kind in MOMENTARY_OFF_S else {}),
        }
        out += [
            b.entity("binary_sensor", s.node, "state", dev, state),
            b.entity("binary_sensor", s.node, "tamper", dev, _TAMPER),
            b.entity("sensor", s.node, "battery", dev, _BATTERY),
        ]
    for g in config.gateways:
        for cam in g.cameras:
            dev = b.device(g.node, "camera gateway", cam.area)
            image = {"name": f"{cam.name} snapshot", "content_type": "image/jpeg"}
            out.append(b.entity("image", g.node, cam.name, dev, image))
    return out
