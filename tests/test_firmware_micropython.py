"""The firmware on real MicroPython: its WebAssembly port (npm, pinned in package.json) runs
every node type from the board's own files, in Node.

What this proves beyond the host tests: the node logic (debounce, long press, pulses, the
tamper switch, the flash queue with its rename dance, the sequence number, the heartbeat)
works on MicroPython's interpreter and library, not only CPython's. The port has no
sockets, so the broker is away there (a stand-in umqtt.simple refuses to connect); MQTT
against a real mosquitto is what test_firmware_nodes.py covers on the host."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import REPO
from firmware_kit import KINDS

from contract.protocol import Alert, Heartbeat

RUNNER = REPO / "tests" / "micropython" / "run.mjs"
SCENARIO = REPO / "tests" / "micropython" / "scenario.py"
PORT = REPO / "node_modules" / "@micropython" / "micropython-webassembly-pyscript"


@pytest.fixture(scope="module")
def on_micropython() -> dict:
    if shutil.which("node") is None or not PORT.exists():
        pytest.fail("MicroPython's WebAssembly port is missing: run make (npm ci)")
    run = subprocess.run(
        ["node", str(RUNNER), str(SCENARIO)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    (line,) = [x for x in run.stdout.splitlines() if x.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


@pytest.mark.parametrize("kind", KINDS)
def test_on_micropython_a_tripped_node_keeps_its_alert_and_tamper_through_a_power_cut(
    on_micropython, kind
):
    result = on_micropython[kind]
    assert result["sent"] == 0  # no broker there: nothing sent, nothing lost
    alerts = [Alert.model_validate_json(line) for line in result["queued"]]
    assert [(a.kind, a.seq) for a in alerts] == [(kind, 0), ("tamper", 1)]
    assert len({a.id for a in alerts}) == 2


@pytest.mark.parametrize("kind", KINDS)
def test_on_micropython_the_heartbeat_is_a_valid_protocol_heartbeat(on_micropython, kind):
    beat = Heartbeat.model_validate(on_micropython[kind]["beat"])
    assert (beat.tamper, beat.queued, beat.node) == (True, 2, "mp-node")
    assert beat.state is not None and beat.uptime_s > 0
