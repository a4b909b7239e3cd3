"""``villagewatch bridge zigbee2mqtt`` against real mosquitto, with Zigbee2MQTT's payloads.

Two real brokers: a plain anonymous mosquitto standing for the one Zigbee2MQTT publishes to
(a Probe publishes the corpus of tests/data/zigbee2mqtt/, shaped as Zigbee2MQTT's device
pages show), and the site's broker with its per-node ACL, where each bridged device logs
in as its own sensor node and a stand-in hub receipts alerts. Re-sends and heartbeats are
paced by an injected clock (``Seconds``): nothing here waits on a timer.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from broker_kit import Probe, wait_until
from conftest import SITE, RunningBroker, require_mosquitto
from receipt_kit import ReceiptingHub, Seconds

from bridge.service import Zigbee2MqttBridge
from bridge.zigbee2mqtt import Translator
from broker.mosquitto import find_mosquitto, free_port, wait_for_port
from contract.bridge_settings import Zigbee2MqttSettings
from contract.protocol import Channel, NodeRole, decode, parse_topic
from contract.siteconfig import ConfigError, parse_site_config
from villagewatch.cli import main

CORPUS = json.loads((Path(__file__).parent / "data/zigbee2mqtt/devices.json").read_text())
NOW = datetime(2026, 12, 2, 21, 30, tzinfo=UTC)
DEVICES = [
    {"friendly_name": "front_door", "node": "z-front-door", "area": "plaza", "kind": "door"},
    {"friendly_name": "hall_motion", "node": "z-hall-motion", "area": "plaza", "kind": "pir"},
    {"friendly_name": "kitchen/leak", "node": "z-leak", "area": "plaza", "kind": "water_leak"},
    {"friendly_name": "hall_smoke", "node": "z-smoke", "area": "plaza", "kind": "smoke"},
    {"friendly_name": "fence_vibration", "node": "z-fence", "area": "plaza", "kind": "vibration"},
    {
        "friendly_name": "panic_button",
        "node": "z-panic",
        "area": "plaza",
        "kind": "panic_button",
        "actions": ["hold"],
    },
    {"friendly_name": "shed_door", "node": "z-shed", "area": "plaza", "kind": "door"},
]


def settings(port: int = 1883) -> Zigbee2MqttSettings:
    return Zigbee2MqttSettings(port=port, devices=DEVICES, receipt_timeout_s=30)


def message(name: str) -> tuple[str, bytes]:
    """(topic, payload) of a corpus message under the default base topic."""
    m = CORPUS["messages"][name]
    payload = m["payload"]
    raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    return f"zigbee2mqtt/{m['topic']}", raw


def feed(t: Translator, name: str, retained: bool = False) -> list[tuple[str, str]]:
    topic, payload = message(name)
    return [
        (e.device.node, e.kind or str(e.online)) for e in t.handle(topic, payload, retained, NOW)
    ]


# --- the translation alone ----------------------------------------------------------------


def test_contact_false_is_open_and_only_a_live_change_alarms():
    t = Translator(settings())
    assert feed(t, "door_open", retained=True) == []  # replayed at connect: old news
    assert t.states["z-front-door"].state == "open"
    assert feed(t, "door_closed") == []
    assert feed(t, "door_open") == [("z-front-door", "door")]
    assert feed(t, "door_open") == []  # the same state again with a battery report
    assert t.states["z-front-door"].battery_v == 3.025


def test_each_documented_device_raises_its_alarm():
    t = Translator(settings())
    for quiet in ("motion_off", "leak_dry", "smoke_clear", "vibration_off", "shed_closed"):
        assert feed(t, quiet) == []
    assert feed(t, "motion_on") == [("z-hall-motion", "pir")]
    assert feed(t, "leak_wet") == [("z-leak", "water_leak")]
    assert feed(t, "smoke_alarm") == [("z-smoke", "smoke")]
    assert feed(t, "vibration_on") == [("z-fence", "vibration")]
    assert feed(t, "vibration_battery_low") == [("z-fence", "battery_low")]
    assert feed(t, "shed_tampered") == [("z-shed", "tamper")]
    assert t.states["z-shed"].tamper is True
    # The panic button alarms only on the actions the site file lists; "" is the legacy reset.
    assert feed(t, "button_single") == []
    assert feed(t, "button_legacy_empty") == []
    assert feed(t, "button_hold") == [("z-panic", "panic_button")]
    assert feed(t, "button_hold", retained=True) == []


def test_availability_in_both_documented_forms():
    t = Translator(settings())
    assert feed(t, "door_offline") == [("z-front-door", "False")]
    assert feed(t, "door_offline_legacy") == []  # no change
    assert feed(t, "door_online_legacy") == [("z-front-door", "True")]
    assert feed(t, "door_offline") == [("z-front-door", "False")]
    assert feed(t, "door_online") == [("z-front-door", "True")]


def test_unknown_devices_and_malformed_payloads_are_skipped(caplog):
    t = Translator(settings())
    assert feed(t, "unknown_device") == [] and feed(t, "bridge_state") == []
    assert t.ignored == {"0x00158d0001a2b3c4": 1, "bridge/state": 1}
    for bad in CORPUS["malformed"]:
        payload = bad["payload"].encode("latin-1" if "\u00ff" in bad["payload"] else "utf-8")
        assert t.handle(f"zigbee2mqtt/{bad['topic']}", payload, False, NOW) == []
    assert "not valid; ignored" in caplog.text
    assert t.states["z-front-door"].values.get("battery") is None  # "lots" was refused


# --- the site file ------------------------------------------------------------------------


def _site(**integrations) -> dict:
    return {
        "site": {"id": SITE, "name": "Riverside"},
        "areas": [{"id": "plaza", "name": "Plaza"}],
        "sensors": [{"node": "door-1", "area": "plaza"}],
        "integrations": integrations,
    }


def test_site_file_errors_name_the_problem():
    ok = parse_site_config(_site(zigbee2mqtt={"devices": DEVICES}))
    assert next(d.node for d in ok.integrations.bridged_nodes()) == "z-front-door"
    assert not ok.integrations.home_assistant.enabled
    bad_cases = {
        "extra": ({"devices": DEVICES, "colour": "red"}, "colour"),
        "area": ({"devices": [{**DEVICES[0], "area": "moon"}]}, "moon"),
        "clash": ({"devices": [{**DEVICES[0], "node": "door-1"}]}, "door-1"),
        "wildcard": ({"devices": [{**DEVICES[0], "friendly_name": "a/#"}]}, "a/#"),
        "kind": ({"devices": [{**DEVICES[0], "kind": "toaster"}]}, "devices[0].kind: Input"),
    }
    for name, (section, needle) in bad_cases.items():
        with pytest.raises(ConfigError) as err:
            parse_site_config(_site(zigbee2mqtt=section))
        assert needle in str(err.value), name


# --- against real brokers -----------------------------------------------------------------


@pytest.fixture
def zigbee_broker(tmp_path: Path) -> Iterator[int]:
    """A plain mosquitto, anonymous on loopback, as Zigbee2MQTT setups usually run."""
    require_mosquitto()
    port = free_port()
    conf = tmp_path / "z2m-mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([find_mosquitto(), "-c", str(conf)], stderr=subprocess.DEVNULL)
    try:
        assert wait_for_port("127.0.0.1", port), "the Zigbee2MQTT broker did not start"
        yield port
    finally:
        proc.terminate()
        proc.wait(10)


class Site:
    """The site's broker seen by a test: the bridged nodes, a receipting hub, a hub probe."""

    def __init__(self, mosquitto: RunningBroker, z2m_port: int, folder: Path) -> None:
        self.mosquitto, self.z2m_port, self.folder = mosquitto, z2m_port, folder
        self.connections = {
            d["node"]: mosquitto.provision(d["node"], NodeRole.SENSOR) for d in DEVICES
        }
        self.watch = Probe(mosquitto.hub_port, "hub", mosquitto.passwords["hub"], "hub-watch")
        self.watch.subscribe("vw/#")
        self.clock = Seconds()

    def bridge(self) -> Zigbee2MqttBridge:
        bridge = Zigbee2MqttBridge(
            settings(self.z2m_port),
            self.connections,
            self.folder / "bridge" / "outbox.sqlite",
            clock=lambda: NOW,
            monotonic=self.clock,
            keepalive=5,
            min_backoff_s=0.2,
            max_backoff_s=1.0,
        )
        bridge.start()
        assert bridge.source_ready.wait(10), "the bridge never subscribed to Zigbee2MQTT"
        linked = [n.link for n in bridge.nodes.values()]
        assert wait_until(lambda: all(link.connected.is_set() for link in linked))
        return bridge

    def json_on(self, node: str, channel: Channel) -> list:
        out = []
        for topic, payload, _ in list(self.watch.messages):
            t = parse_topic(topic)
            if t.node == node and t.channel is channel:
                out.append(decode(t, payload))
        return out


def publish(probe: Probe, name: str, retain: bool = False) -> None:
    topic, payload = message(name)
    assert probe.publish(topic, payload, retain=retain)


def test_bridge_speaks_for_each_device_over_real_brokers(mosquitto, zigbee_broker, tmp_path):
    site = Site(mosquitto, zigbee_broker, tmp_path)
    z2m = Probe(zigbee_broker, None, None, "zigbee2mqtt")
    # Before the bridge starts: the door is open (retained, as Zigbee2MQTT with retain: true).
    publish(z2m, "door_open", retain=True)
    publish(z2m, "door_online", retain=True)
    hub = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"], "hub-receipts")
    bridge = site.bridge()
    try:
        for bad in CORPUS["malformed"]:  # first, so the events after prove it survived them
            assert z2m.publish(f"zigbee2mqtt/{bad['topic']}", bad["payload"].encode())
        for name in ("unknown_device", "bridge_state", "door_closed", "door_open", "motion_on",
                     "leak_wet", "smoke_alarm", "vibration_on", "vibration_battery_low",
                     "button_single", "button_hold", "shed_tampered"):  # fmt: skip
            publish(z2m, name)
        kinds = {"door", "pir", "water_leak", "smoke", "vibration", "battery_low", "tamper"}
        kinds.add("panic_button")
        assert wait_until(lambda: {a["kind"] for a in hub.alerts.values()} == kinds)
        assert wait_until(lambda: bridge.outbox.pending() == 0), "receipts released them all"
        door = [a for a in hub.alerts.values() if a["node"] == "z-front-door"]
        assert len(door) == 1 and door[0]["seq"] == 0  # the retained "open" raised nothing
        assert door[0]["area"] == "plaza" and door[0]["severity"] == "major"
        panic = next(a for a in hub.alerts.values() if a["kind"] == "panic_button")
        assert panic["severity"] == "critical" and panic["node"] == "z-panic"

        publish(z2m, "door_offline")
        assert wait_until(
            lambda: (
                [s.state for s in site.json_on("z-front-door", Channel.STATUS)][-1:] == ["offline"]
            )
        )
        publish(z2m, "door_online_legacy")
        assert wait_until(
            lambda: (
                [s.state for s in site.json_on("z-front-door", Channel.STATUS)][-1:] == ["online"]
            )
        )

        assert bridge.heartbeat_all() == len(DEVICES)
        assert wait_until(lambda: len(site.json_on("z-shed", Channel.HEARTBEAT)) >= 1)
        assert wait_until(lambda: len(site.json_on("z-front-door", Channel.HEARTBEAT)) >= 1)
        beat = site.json_on("z-front-door", Channel.HEARTBEAT)[-1]
        assert (beat.battery_pct, beat.battery_v, beat.state) == (100, 3.025, "open")
        assert beat.rssi_dbm is None and beat.queued == 0
        assert site.json_on("z-shed", Channel.HEARTBEAT)[-1].tamper is True
    finally:
        bridge.stop()
        hub.close()
        z2m.close()
    # A clean stop announces every bridged node offline (the bridge left, not the devices).
    assert wait_until(
        lambda: all(site.json_on(d["node"], Channel.STATUS)[-1].state == "offline" for d in DEVICES)
    )


def test_alerts_wait_on_disk_for_the_receipt_across_a_restart(mosquitto, zigbee_broker, tmp_path):
    site = Site(mosquitto, zigbee_broker, tmp_path)
    z2m = Probe(zigbee_broker, None, None, "zigbee2mqtt")
    mute = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"], "mute", receipting=False)
    bridge = site.bridge()
    publish(z2m, "door_closed")
    publish(z2m, "door_open")
    assert wait_until(lambda: len(mute.alerts) == 1)
    first = next(iter(mute.alerts.values()))
    site.clock.advance(31)  # past the receipt time-out: sent again, same id
    bridge.tick()
    assert wait_until(lambda: mute.copies[first["id"]] == 2)
    assert bridge.outbox.pending("z-front-door") == 1
    bridge.stop()
    mute.close()

    hub = ReceiptingHub(mosquitto.hub_port, mosquitto.passwords["hub"], "hub-receipts")
    bridge = site.bridge()  # a new process over the same outbox file
    try:
        assert hub.wait_for({first["id"]})
        assert wait_until(lambda: bridge.outbox.pending() == 0)
        publish(z2m, "door_open")  # still open after the restart: not news
        publish(z2m, "door_closed")
        publish(z2m, "door_open")
        assert wait_until(lambda: len(hub.alerts) == 2)
        seqs = sorted(a["seq"] for a in hub.alerts.values())
        assert seqs == [0, 1]  # the counter survived the restart
    finally:
        bridge.stop()
        hub.close()
        z2m.close()


# --- the command ----------------------------------------------------------------------------


def test_the_command_says_what_is_missing(tmp_path, capsys):
    site = _site()
    site["broker"] = {"data_dir": str(tmp_path / "broker")}
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site))
    assert main(["bridge", "zigbee2mqtt", "--config", str(path)]) == 2
    assert "no integrations.zigbee2mqtt section" in capsys.readouterr().err

    site["integrations"] = {"zigbee2mqtt": {"devices": DEVICES[:1]}}
    path.write_text(yaml.safe_dump(site))
    assert main(["bridge", "zigbee2mqtt", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "z-front-door.json" in err and "villagewatch provision" in err
