"""What each sensor type's input means, on simulated pins and an injected millisecond clock:
PIR hold-off, panic long press (never rate-limited), a leak is not a splash, a fence alarm
needs several shakes, the tamper switch is debounced. No broker: these are the inputs alone
(test_firmware_nodes.py runs every type against a real mosquitto). And the firmware stays
MicroPython: only modules a board has, and files small enough for its flash."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from firmware_kit import Millis, Rig, offline_config

import firmware_stubs
from contract.protocol import Alert, Heartbeat, Severity
from contract.sensor_kinds import DEFAULT_SENSOR_SEVERITY, SENSOR_STATES
from firmware_stubs.host_pins import SimulatedPin
from firmware_stubs.node_types import NODE_TYPES, make_node


def kinds_queued(rig: Rig) -> list[str]:
    return [Alert.model_validate_json(line).kind for line in rig.node.queued()]


def test_pir_motion_within_the_hold_off_is_counted_not_alerted(tmp_path):
    rig = Rig("pir", offline_config("lawn-pir"), tmp_path)
    rig.trip()
    rig.clock.advance(20_000)
    rig.trip()  # the same person, still on the lawn 20 s later
    assert kinds_queued(rig) == ["pir"] and rig.node.held_off == 1
    rig.clock.advance(10_000)  # 30 s after the first alert
    rig.trip()
    assert kinds_queued(rig) == ["pir", "pir"]


def test_pir_hold_off_comes_from_node_json(tmp_path):
    rig = Rig("pir", offline_config("lawn-pir", hold_off_ms=5_000), tmp_path)
    rig.trip()
    rig.clock.advance(5_000)
    rig.trip()
    assert kinds_queued(rig) == ["pir", "pir"]


def test_a_short_press_of_the_panic_button_raises_nothing(tmp_path):
    rig = Rig("panic_button", offline_config("desk-panic"), tmp_path)
    rig.settle(0, rig.pin, 1_000)  # pressed for a second: brushed, not meant
    rig.settle(1, rig.pin, 100)
    assert rig.node.queued() == []


def test_a_long_press_of_the_panic_button_raises_one_critical_alert(tmp_path):
    rig = Rig("panic_button", offline_config("desk-panic"), tmp_path)
    rig.pin.value(0)
    rig.node.poll()
    rig.clock.advance(1_499)
    rig.node.poll()
    assert rig.node.queued() == [] and rig.node.state == "pressed"
    rig.clock.advance(1)
    alert = rig.node.poll()
    assert (alert["kind"], alert["severity"]) == ("panic_button", "critical")
    rig.clock.advance(10_000)  # still held: one press, one alert
    rig.node.poll()
    assert len(rig.node.queued()) == 1


def test_the_panic_button_is_never_rate_limited(tmp_path):
    rig = Rig("panic_button", offline_config("desk-panic"), tmp_path)
    for _ in range(12):
        rig.trip()
    assert kinds_queued(rig) == ["panic_button"] * 12 and rig.node.suppressed == 0


def test_a_splash_on_the_water_probe_is_not_a_leak(tmp_path):
    rig = Rig("water_leak", offline_config("cellar-leak"), tmp_path)
    rig.settle(0, rig.pin, 1_500)  # wet for 1.5 s, then dry
    rig.settle(1, rig.pin, 2_000)
    assert rig.node.queued() == [] and rig.node.state == "dry"
    rig.settle(0, rig.pin, 2_000)
    assert kinds_queued(rig) == ["water_leak"] and rig.node.state == "wet"


def shake(rig: Rig, times: int, apart_ms: int) -> None:
    for _ in range(times):
        rig.settle(1, rig.pin, 5)
        rig.settle(0, rig.pin, 5)
        rig.clock.advance(apart_ms)


def test_a_fence_alarms_on_three_shakes_within_two_seconds_not_on_spread_out_gusts(tmp_path):
    rig = Rig("vibration", offline_config("fence-north"), tmp_path)
    shake(rig, 6, 1_200)  # a gust every 1.2 s: never three within 2 s
    assert rig.node.queued() == []
    shake(rig, 3, 300)
    assert kinds_queued(rig) == ["vibration"]
    shake(rig, 3, 300)  # still shaking, within the 10 s hold-off
    assert len(rig.node.queued()) == 1


@pytest.mark.parametrize("kind", ["smoke", "heat", "glass_break"])
def test_an_alarm_output_raises_on_its_active_level_and_reports_alarm(tmp_path, kind):
    rig = Rig(kind, offline_config("hall-alarm"), tmp_path)
    active = rig.node.input.active
    rig.settle(active, rig.pin, 50)
    assert kinds_queued(rig) == [kind] and rig.node.state == "alarm"
    assert Heartbeat.model_validate(rig.node.heartbeat()).state == "alarm"


def test_a_knock_on_the_enclosure_shorter_than_the_tamper_debounce_is_ignored(tmp_path):
    rig = Rig("door", offline_config(), tmp_path)
    rig.settle(1, rig.tamper, 50)
    rig.settle(0, rig.tamper, 200)
    assert rig.node.queued() == [] and rig.node.heartbeat()["tamper"] is False


def test_a_sensor_already_active_at_boot_reports_its_state_but_raises_nothing(tmp_path):
    rig = Rig("door", offline_config(), tmp_path)
    rig.pin.value(1)
    rig.boot()  # the power came back while the door stood open
    rig.clock.advance(1_000)
    rig.node.poll()
    assert rig.node.queued() == [] and rig.node.heartbeat()["state"] == "open"


FIRMWARE = sorted(
    p for p in Path(firmware_stubs.__file__).parent.glob("*.py") if p.name != "host_pins.py"
)
#: What a MicroPython board has (mqtt_min stands in for umqtt.simple on the host).
MICROPYTHON = {"json", "os", "time", "random", "socket", "struct", "errno", "machine", "network"}
#: Largest firmware file: a board compiles each .py in RAM at import (an ESP32 has room; an
#: ESP8266 wants the files cross-compiled with mpy-cross first, see the README).
MAX_FILE_BYTES = 20_000


@pytest.mark.parametrize("path", FIRMWARE, ids=lambda p: p.name)
def test_the_firmware_imports_only_what_micropython_has(path):
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    ours = {m for m in imported if m.startswith("firmware_stubs.")}
    assert imported - ours <= MICROPYTHON | {"umqtt.simple"}


#: The files a board gets (mqtt_min and host_pins are host stand-ins).
ON_BOARD = [p for p in FIRMWARE if p.name != "mqtt_min.py"]


@pytest.mark.parametrize("path", ON_BOARD, ids=lambda p: p.name)
def test_the_firmware_compiles_with_micropythons_own_compiler(path, tmp_path):
    """mpy-cross is MicroPython's compiler (the one that makes .mpy files for small boards):
    it refuses what MicroPython's grammar lacks, e.g. ``[*queue, line]``."""
    out = tmp_path / (path.stem + ".mpy")
    run = subprocess.run(
        [sys.executable, "-m", "mpy_cross", "-o", str(out), str(path)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 0


@pytest.mark.parametrize("path", FIRMWARE, ids=lambda p: p.name)
def test_each_firmware_file_fits_a_boards_flash(path):
    assert path.stat().st_size <= MAX_FILE_BYTES


def test_a_heartbeat_with_the_boards_readings_is_a_valid_protocol_heartbeat(tmp_path):
    """On a board, battery and rssi come from the ADC and the Wi-Fi link; here a test hands
    in the same readings (``health``) and the payload must still be a protocol Heartbeat."""
    readings = {"battery_v": 2.91, "battery_pct": 64.0, "rssi_dbm": -71, "temperature_c": None}
    node = make_node(
        {**offline_config("cellar-leak"), "kind": "water_leak", "heartbeat_s": 300},
        SimulatedPin(1),
        SimulatedPin(0),
        str(tmp_path),
        clock=Millis(),
        health=lambda: readings,
    )
    beat = Heartbeat.model_validate(node.heartbeat())
    assert (beat.battery_v, beat.battery_pct, beat.rssi_dbm) == (2.91, 64.0, -71)
    assert (beat.temperature_c, beat.tamper, beat.state, beat.interval_s) == (
        None,
        False,
        "dry",
        300,
    )


def test_a_power_cut_while_the_queue_is_written_costs_at_most_the_torn_line(tmp_path):
    """On a filesystem without an atomic rename a cut can tear the last line: the node
    boots with the whole ones instead of failing to parse its flash at every boot."""
    rig = Rig("door", offline_config(), tmp_path)
    rig.trip()
    rig.trip()
    whole = rig.node.queued()
    queue = tmp_path / "queue.jsonl"
    queue.write_text(queue.read_text() + whole[0][:40])  # a third alert, half written
    assert rig.boot().queued() == whole


def test_a_power_cut_between_removing_and_renaming_a_state_file_keeps_the_sequence(tmp_path):
    """FAT will not rename over a file: the node removes the old one first. A cut between
    the two leaves only the new copy (``seq.txt.tmp``), which the next boot reads."""
    rig = Rig("door", offline_config(), tmp_path)
    for _ in range(3):
        rig.trip()
    (tmp_path / "seq.txt").rename(tmp_path / "seq.txt.tmp")
    rig.boot()
    rig.trip()
    assert Alert.model_validate_json(rig.node.queued()[-1]).seq == 3


def test_the_readme_states_each_firmware_files_size():
    """firmware_stubs/README.md says how big each file is; this keeps it true."""
    readme = (Path(firmware_stubs.__file__).parent / "README.md").read_text()
    stated = {
        m[1]: int(m[2].replace(",", ""))
        for m in re.finditer(r"\| `(\w+\.py)` \| ([\d,]+) \|", readme)
    }
    actual = {p.name: p.stat().st_size for p in Path(firmware_stubs.__file__).parent.glob("*.py")}
    assert stated == actual


def test_every_node_type_reports_its_kinds_states_and_severity_as_the_contract_defines():
    """The firmware cannot import contract/ (MicroPython): its copies must stay equal."""
    assert set(NODE_TYPES) == set(SENSOR_STATES)
    for kind, cls in NODE_TYPES.items():
        assert tuple(cls.STATES) == SENSOR_STATES[kind], kind
        default = DEFAULT_SENSOR_SEVERITY.get(kind, Severity.MAJOR)
        assert default.value == cls.SEVERITY, kind
