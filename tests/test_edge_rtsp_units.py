"""The parts of RTSP capture that need no camera: the transport gate, and how a camera's source
is configured and named. (The real-server tests are in test_edge_rtsp.py.)

The gate is driven by threads that wait on events; nothing here sleeps for a fixed time.
"""

from __future__ import annotations

import os
import threading

import pytest

from broker.mosquitto import free_port
from contract.siteconfig import Camera
from edge.capture import FrameSource, _TransportGate

OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"


@pytest.fixture
def env(monkeypatch):
    """The capture options as a user left them: one option of their own, one of ours."""
    monkeypatch.setenv(OPTIONS, "hwaccel;none|rtsp_transport;http")
    return monkeypatch


class Opener(threading.Thread):
    """Opens through the gate, notes what the options said inside, holds until released."""

    def __init__(self, gate: _TransportGate, transport: str, log: list[str]) -> None:
        super().__init__(daemon=True)
        self.gate, self.transport, self.log = gate, transport, log
        self.inside = threading.Event()
        self.release = threading.Event()
        self.options = ""

    def run(self) -> None:
        with self.gate.opening(self.transport):
            self.options = os.environ[OPTIONS]
            self.log.append(f"in {self.transport}")
            self.inside.set()
            self.release.wait(30)
            self.log.append(f"out {self.transport}")


def wait_waiting(gate: _TransportGate, n: int) -> None:
    done = threading.Event()
    for _ in range(3000):  # up to ~30 s; each step waits 10 ms for the thread to block
        if gate.waiting == n:
            return
        done.wait(0.01)
    raise AssertionError(f"{gate.waiting} opens waiting, expected {n}")


def test_opens_on_one_transport_run_side_by_side_and_keep_the_users_options(env):
    gate, log = _TransportGate(), []
    first, second = Opener(gate, "udp", log), Opener(gate, "udp", log)
    first.start()
    assert first.inside.wait(10)
    second.start()
    assert second.inside.wait(10)  # entered while the first is still opening
    first.release.set()
    second.release.set()
    first.join(10)
    second.join(10)
    assert first.options == second.options == "hwaccel;none|rtsp_transport;udp"


def test_an_open_on_the_other_transport_waits_and_newcomers_queue_behind_it(env):
    gate, log = _TransportGate(), []
    tcp = Opener(gate, "tcp", log)
    tcp.start()
    assert tcp.inside.wait(10)
    udp = Opener(gate, "udp", log)
    udp.start()
    wait_waiting(gate, 1)
    late_tcp = Opener(gate, "tcp", log)  # would starve the udp open if let in
    late_tcp.start()
    wait_waiting(gate, 2)
    tcp.release.set()
    udp.release.set()
    late_tcp.release.set()
    for opener in (tcp, udp, late_tcp):
        opener.join(10)
    assert log[:2] == ["in tcp", "out tcp"]
    assert sorted(log[2:]) == ["in tcp", "in udp", "out tcp", "out udp"]
    assert tcp.options == late_tcp.options == "hwaccel;none|rtsp_transport;tcp"
    assert udp.options == "hwaccel;none|rtsp_transport;udp"


def test_files_and_http_streams_do_not_wait_for_the_gate(env):
    gate, log = _TransportGate(), []
    udp = Opener(gate, "udp", log)
    udp.start()
    assert udp.inside.wait(10)
    with gate.opening(None):  # entered at once although an RTSP open is in progress
        log.append("file")
    udp.release.set()
    udp.join(10)
    assert log == ["in udp", "file", "out udp"]


def test_a_cameras_source_takes_its_transport_and_name_and_never_shows_the_password():
    port = free_port()  # nothing listens: the open is refused at once
    url = f"rtsp://viewer:hunter2@127.0.0.1:{port}/stream1"
    camera = Camera(name="gate", source=url, area="plaza", rtsp_transport="udp")
    source = FrameSource.for_camera(camera, url)
    assert (source.rtsp_transport, source.name, source.stream) == ("udp", "gate", True)
    with pytest.raises(ConnectionError) as refused:
        source._open()
    message = str(refused.value)
    assert "camera gate" in message and "hunter2" not in message
    assert f"rtsp://***@127.0.0.1:{port}/stream1" in message


def test_the_transport_setting_refuses_anything_but_tcp_and_udp():
    with pytest.raises(ValueError, match="rtsp_transport"):
        Camera(name="gate", source="rtsp://x/y", area="plaza", rtsp_transport="http")
