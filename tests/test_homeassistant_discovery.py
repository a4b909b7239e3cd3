"""Home Assistant MQTT discovery from the hub, against real mosquitto and the real hub.

Every config the hub publishes is checked against the configuration variables Home
Assistant documents for its component (tests/data/homeassistant/, each list with its
source URL): required fields present, no key Home Assistant does not know, device classes
and state classes from the documented lists. Then the states: each state topic carries what
its config promises (``ON``/``OFF`` for a binary_sensor, a number for a sensor, a JPEG for
an ``image/jpeg`` image). And the broker ACL: only the hub identity may write the prefix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_kit import BROKER_KINDS, BrokerUnderTest, Probe, wait_until
from conftest import SITE, RunningBroker, require_mosquitto
from hub_helpers import NodeClient, example_config, make_alert, snapshot_jpeg

from broker.credentials import CredentialStore
from broker.embedded import EmbeddedBroker
from broker.mosquitto import MosquittoBroker
from broker.provision import node_role
from contract.bridge_settings import HomeAssistantSettings
from contract.protocol import (
    Heartbeat,
    NodeRole,
    alert_topic,
    encode,
    heartbeat_topic,
    snapshot_topic,
    utc_now,
)
from contract.siteconfig import ConfigError, parse_site_config
from hub.domain.incidents import Category
from hub.integrations.homeassistant_entities import discovery_entities
from hub.service import HubService

FIELDS = json.loads(
    (Path(__file__).parent / "data/homeassistant/mqtt_discovery_fields.json").read_text()
)
PREFIX = "homeassistant"
CONFIG_TOPIC = re.compile(rf"^{PREFIX}/([a-z_]+)/([^/]+)/([^/]+)/config$")


def ha_site_data() -> dict:
    return {
        "site": {"id": SITE, "name": "Riverside"},
        "areas": [{"id": "p", "name": "Plaza"}],
        "integrations": {"home_assistant": {"enabled": True}},
    }


def ha_site():
    return parse_site_config(ha_site_data())


def ha_config():
    config = example_config()
    integrations = config.integrations.model_copy(
        update={"home_assistant": HomeAssistantSettings(enabled=True)}
    )
    return config.model_copy(update={"integrations": integrations})


def check_config(topic: str, config: dict) -> str:
    """Fail unless ``config`` is a discovery config Home Assistant documents; returns its
    component."""
    match = CONFIG_TOPIC.match(topic)
    assert match, f"{topic} is not <prefix>/<component>/<node_id>/<object_id>/config"
    component, node_id, object_id = match.groups()
    id_pattern = re.compile(FIELDS["topic"]["id_pattern"])
    assert id_pattern.match(node_id) and id_pattern.match(object_id), topic
    spec = FIELDS["components"][component]
    for key in spec.get("required", []):
        assert key in config, f"{topic}: {key} is required ({spec['source']})"
    if "one_of_required" in spec:
        assert any(k in config for k in spec["one_of_required"]), topic
    unknown = set(config) - set(spec["allowed"])
    assert not unknown, f"{topic}: {sorted(unknown)} are not in {spec['source']}"
    device = config["device"]
    assert set(device) <= set(FIELDS["device"]["allowed"]), (topic, device)
    assert any(k in device for k in FIELDS["device"]["one_of_required"]), topic
    if component == "binary_sensor":
        assert config["device_class"] in FIELDS["binary_sensor_device_classes"]["values"]
    if component == "sensor":
        assert config.get("state_class") in FIELDS["sensor"]["state_classes"]
        if config.get("device_class") == "battery":
            assert config["unit_of_measurement"] == FIELDS["sensor"]["battery_unit"]
    if "entity_category" in config:
        assert config["entity_category"] in FIELDS["entity_categories"]["values"]
    return component


def check_state(config: dict, payload: bytes, component: str) -> None:
    """A state message carries what its config says it does."""
    if component == "binary_sensor":
        defaults = FIELDS["components"]["binary_sensor"]["defaults"]
        on = config.get("payload_on", defaults["payload_on"])
        off = config.get("payload_off", defaults["payload_off"])
        assert payload.decode() in (on, off), (config["unique_id"], payload)
    elif component == "sensor":
        float(payload)  # a measurement is a number
    elif component == "image":
        assert config["content_type"] == "image/jpeg"
        assert payload.startswith(b"\xff\xd8") and payload.endswith(b"\xff\xd9")


def received_configs(watcher: Probe, expected: dict) -> dict[str, dict]:
    """Wait for every expected config, check each against Home Assistant's fields."""
    assert wait_until(lambda: all(watcher.payloads(t) for t in expected))
    configs = {t: json.loads(watcher.payloads(t)[-1]) for t in expected}
    components = {check_config(t, c) for t, c in configs.items()}
    assert components == {"binary_sensor", "sensor", "image"}
    return configs


@pytest.fixture
def ha_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """Mosquitto whose ACL lets the hub identity write the discovery prefix (as
    ``broker.provision.credential_store`` sets it up when the site turns discovery on)."""
    require_mosquitto()
    store = CredentialStore(
        tmp_path / "broker" / "identities.json",
        "vw",
        ha_config().integrations.home_assistant.hub_topics(),
    )
    running = RunningBroker(MosquittoBroker(tmp_path / "broker", store), store)
    running.passwords["hub"] = store.add("hub", NodeRole.HUB, SITE)
    running.broker.start()
    yield running
    running.broker.stop()


def test_only_the_hub_may_write_the_discovery_prefix(ha_broker, tmp_path):
    ha_broker.provision("plaza-door", NodeRole.SENSOR)
    ha_broker.provision("homeassistant", NodeRole.INTEGRATION)
    blocks = ha_broker.store.mosquitto_acl_file().split("\n\n")
    block = {b.splitlines()[0].removeprefix("user "): b.splitlines()[1:] for b in blocks}
    assert "topic readwrite homeassistant/#" in block["hub"]
    assert block["homeassistant"] == [
        "topic read homeassistant/#",
        "topic write homeassistant/status",
    ]  # Home Assistant's login: the prefix, nothing of VillageWatch's
    assert not any("homeassistant" in line for line in block["plaza-door"])
    assert node_role(ha_site(), "homeassistant") is NodeRole.INTEGRATION
    with pytest.raises(ConfigError, match="unique"):  # the login is a username like any
        parse_site_config({**ha_site_data(), "sensors": [{"node": "homeassistant", "area": "p"}]})
    plain = CredentialStore(tmp_path / "plain.json", "vw")
    plain.add("hub", NodeRole.HUB, SITE)
    assert "homeassistant" not in plain.mosquitto_acl_file()  # off: nothing granted
    with pytest.raises(ValueError):
        CredentialStore(tmp_path / "bad.json", "vw", ("homeassistant/+/x",))


@pytest.mark.parametrize("kind", BROKER_KINDS)
def test_each_broker_keeps_nodes_out_of_the_prefix(kind, tmp_path):
    if kind == "mosquitto":
        require_mosquitto()
    hub_extra = ha_config().integrations.home_assistant.hub_topics()
    store = CredentialStore(tmp_path / "identities.json", "vw", hub_extra)
    running = BrokerUnderTest(
        (MosquittoBroker if kind == "mosquitto" else EmbeddedBroker)(tmp_path, store), store
    )
    running.passwords["hub"] = store.add("hub", NodeRole.HUB, SITE)
    running.broker.start()
    try:
        running.add("plaza-door", NodeRole.SENSOR)
        running.add("homeassistant", NodeRole.INTEGRATION)
        ha = running.probe("homeassistant", "homeassistant")
        ha.subscribe("homeassistant/#")
        ha.subscribe("vw/#")  # accepted or not, nothing of VillageWatch's may reach it
        node = running.probe("plaza-door", "plaza-door")
        hub = running.probe("hub", "hub-writer")
        hub.subscribe("homeassistant/status")
        node.publish("homeassistant/binary_sensor/x/y/config", b"{}")  # the broker drops it
        node.publish("vw/riverside/plaza-door/status", b"online")
        ha.publish("homeassistant/sensor/fake/x/config", b"{}")  # dropped: HA only reads
        ha.publish("homeassistant/status", b"online")  # HA's one write
        assert hub.wait_for("homeassistant/status", b"online")
        hub.publish("homeassistant/sensor/hub/last/config", b"{}")  # after all the above
        assert ha.wait_for("homeassistant/sensor/hub/last/config")
        assert ha.payloads("homeassistant/binary_sensor/x/y/config") == []
        assert ha.payloads("homeassistant/sensor/fake/x/config") == []
        assert not [t for t, _, _ in ha.messages if t.startswith("vw/")]
    finally:
        running.shutdown()


def test_hub_announces_and_feeds_every_entity(ha_broker, tmp_path):
    config = ha_config()
    expected = {e.topic(PREFIX, "config"): e for e in discovery_entities(config)}
    door = NodeClient(ha_broker.provision("plaza-door", NodeRole.SENSOR), client_id="plaza-door")
    gateway = NodeClient(ha_broker.provision("gw-plaza"), client_id="gw-plaza")
    ha_broker.provision("homeassistant", NodeRole.INTEGRATION)  # Home Assistant's login
    watcher = Probe(ha_broker.port, "homeassistant", ha_broker.passwords["homeassistant"], "ha")
    watcher.subscribe(f"{PREFIX}/#")
    hub = HubService(config, ha_broker.connection("hub", NodeRole.HUB), tmp_path / "hub")
    hub.start()
    try:
        assert hub.wait_ready(10)
        configs = received_configs(watcher, expected)
        avail = configs[next(iter(expected))]["availability_topic"]
        assert watcher.wait_for(avail, b"online")

        beat = Heartbeat(site=SITE, node="plaza-door", ts=utc_now(), interval_s=60,
                         uptime_s=5, battery_pct=80, tamper=True, state="open")  # fmt: skip
        door.publish(heartbeat_topic("vw", SITE, "plaza-door"), encode(beat))
        alert = make_alert()
        gateway.publish(alert_topic("vw", SITE, "gw-plaza"), encode(alert))
        gateway.publish(snapshot_topic("vw", SITE, "gw-plaza", alert.id), snapshot_jpeg())

        def state(component: str, node: str, obj: str) -> list[bytes]:
            return watcher.payloads(f"{PREFIX}/{component}/{node}/{obj}/state")

        assert wait_until(lambda: state("sensor", "plaza-door", "battery") == [b"80"])
        assert wait_until(lambda: state("binary_sensor", "plaza-door", "tamper") == [b"ON"])
        assert wait_until(lambda: state("binary_sensor", "plaza-door", "state") == [b"ON"])
        assert wait_until(lambda: state("image", "gw-plaza", "plaza") == [snapshot_jpeg()])

        # The intrusion opened an incident (the tamper may open another): the count is
        # the hub's own queue of open security incidents.
        def open_now() -> bytes:
            return str(len(hub.storage.incidents.queue(1000, Category.SECURITY))).encode()

        assert wait_until(
            lambda: (
                int(open_now()) >= 1
                and state("sensor", "hub", "open_incidents")[-1:] == [open_now()]
            )
        )
        by_state = {e.topic(PREFIX, "state"): e for e in expected.values()}
        seen = [(t, p) for t, p, _ in list(watcher.messages) if t in by_state]
        for topic, payload in seen:
            entity = by_state[topic]
            check_state(entity.config, payload, entity.component)

        # Home Assistant restarts and says so: everything is announced again, states too.
        before = hub.home_assistant.announcements
        watcher.messages.clear()
        watcher.publish(f"{PREFIX}/status", b"online")
        assert wait_until(lambda: hub.home_assistant.announcements == before + 1)
        assert wait_until(lambda: all(watcher.payloads(t) for t in expected))
        assert wait_until(lambda: state("sensor", "plaza-door", "battery") == [b"80"])
    finally:
        hub.stop()
        door.stop()
        gateway.stop()
    assert watcher.wait_for(avail, b"offline")  # every entity goes unavailable with the hub
    watcher.close()


def test_discovery_is_off_by_default():
    assert not example_config().integrations.home_assistant.enabled
    assert example_config().integrations.home_assistant.hub_topics() == ()
