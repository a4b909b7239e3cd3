"""RTSP cameras, tested against a real RTSP server: GStreamer's, serving the excerpt as H.264
with a username and password (:mod:`tests.rtsp_kit`), read by the real capture (OpenCV's
FFmpeg) and, for the health cases, by a whole camera pipeline (SSDLite, SQLite outbox).

Nothing here waits a fixed time: each step waits for a condition (a frame, an alert, a server
event), with a generous timeout that only ends a test that would otherwise hang.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rtsp_kit import RtspCamera, require_rtsp_server

from broker.mosquitto import free_port
from contract.camera_settings import HealthSettings
from contract.protocol import Alert
from contract.siteconfig import Camera
from edge.capture import FrameSource
from edge.detectors import make_detector
from edge.outbox import Outbox
from edge.pipeline import CameraPipeline
from edge.rtsp_probe import describe_status


@pytest.fixture(scope="module")
def encoded(tmp_path_factory) -> Path:
    """One folder for the module's servers: the excerpt is encoded to H.264 once."""
    require_rtsp_server()
    return tmp_path_factory.mktemp("rtsp")


@pytest.fixture(scope="module")
def shared_camera(encoded) -> Iterator[RtspCamera]:
    """A camera the read-only tests share (no reboot, no stall)."""
    cam = RtspCamera(encoded)
    cam.start()
    yield cam
    cam.stop()


@pytest.fixture
def camera(encoded) -> Iterator[RtspCamera]:
    """A camera of this test's own, to reboot or stall."""
    cam = RtspCamera(encoded)
    cam.start()
    yield cam
    cam.stop()


def wait_until(condition: Callable[[], bool], timeout: float = 45.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- capture ---------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_frames_arrive_over_rtsp_with_credentials(shared_camera, transport):
    source = FrameSource(shared_camera.url(), rtsp_transport=transport, name="lawn")
    stop = threading.Event()
    frames = []
    for frame in source.frames(stop):
        frames.append(frame)
        if len(frames) == 10:
            stop.set()
    assert frames[0].restarted and not any(f.restarted for f in frames[1:])
    assert [f.index for f in frames] == list(range(10))
    assert all(f.size == (768, 576) for f in frames)
    assert frames[-1].image.std() > 20  # the plaza, not a blank picture
    # The server saw the transport we asked for: RTP over UDP ports, or interleaved in TCP.
    asked = shared_camera.setups[-1]
    assert ("interleaved" in asked) == (transport == "tcp"), asked
    assert ("client_port" in asked) == (transport == "udp"), asked


def test_a_refused_login_is_a_clear_error_retried_seldom(shared_camera, caplog):
    waits: list[float] = []
    stop = threading.Event()

    def record(_stop: threading.Event, seconds: float) -> bool:
        """Instead of sleeping: note the wait, and end after four attempts."""
        waits.append(seconds)
        if len(waits) == 4:
            stop.set()
        return stop.is_set()

    before = shared_camera.connects
    source = FrameSource(shared_camera.url(password="wrong"), name="lawn", wait=record)
    with caplog.at_level(logging.ERROR, logger="edge.capture"):
        assert list(source.frames(stop)) == []
    # Backed off from a minute, doubling: four attempts, not a storm.
    assert waits == [60.0, 120.0, 240.0, 480.0]
    # Each attempt is one connection by FFmpeg and one by the probe that reads the 401.
    assert shared_camera.wait_for(lambda: shared_camera.connects - before == 8, 10)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 4
    assert "camera lawn" in errors[0] and "refused the username or password" in errors[0]
    assert "wrong" not in caplog.text and shared_camera.password not in caplog.text
    assert "refused the username or password" in (source.last_error or "")


def test_a_stream_that_stalls_past_the_read_timeout_is_reconnected(camera):
    source = FrameSource(camera.url(), stall_s=1.0, min_backoff_s=0.2, max_backoff_s=0.5)
    stop = threading.Event()
    watchdog = threading.Timer(60, stop.set)  # a source that never recovers ends the test
    watchdog.start()
    reconnected = threading.Event()

    def resume_once_reconnected(connects: int) -> None:
        # The capture gives up on the silent session and connects again; the camera answers
        # RTSP but sends nothing until its encoder recovers.
        if camera.wait_for(lambda: camera.connects > connects, 30):
            reconnected.set()
        camera.resume()

    restarts: list[int] = []
    try:
        for n, frame in enumerate(source.frames(stop)):
            if frame.restarted:
                restarts.append(n)
            if n == 5:
                camera.stall()
                threading.Thread(target=resume_once_reconnected, args=(camera.connects,)).start()
            if len(restarts) == 2 and n >= restarts[1] + 3:
                break
    finally:
        stop.set()
        watchdog.cancel()
    assert reconnected.is_set()
    assert restarts[0] == 0 and restarts[1] > 5
    assert source.reconnects >= 1


def test_the_probe_reads_the_cameras_answer_with_digest_and_basic_auth(shared_camera, encoded):
    digest = shared_camera
    assert describe_status(digest.url()) == 200
    assert describe_status(digest.url(password="wrong")) == 401
    assert describe_status(digest.url().replace("/stream1", "/nothing")) == 404
    assert describe_status(f"rtsp://127.0.0.1:{free_port()}/stream1") is None  # nobody there
    basic = RtspCamera(encoded, auth="basic")
    basic.start()
    try:
        assert describe_status(basic.url()) == 200
        assert describe_status(basic.url(password="wrong")) == 401
    finally:
        basic.stop()


# --- the whole camera: health alerts ---------------------------------------------------------


class Alerts:
    """The alerts a pipeline raised, as they come."""

    def __init__(self) -> None:
        self.seen: list[Alert] = []

    def __call__(self, alert: Alert) -> None:
        self.seen.append(alert)

    def has(self, kind: str, severity: str, since: int = 0) -> bool:
        """An alert of ``kind`` and ``severity`` among those from number ``since`` on."""
        return any(a.kind == kind and a.severity == severity for a in self.seen[since:])


def start_pipeline(url: str, tmp_path: Path, alerts: Alerts) -> tuple[CameraPipeline, Outbox]:
    camera = Camera(
        name="lawn",
        source=url,
        area="plaza",
        # Short holds, so the test does not wait the 20 s / 30 s a real site uses.
        health=HealthSettings(lost_after_s=1.5, clear_after_s=0.0),
    )
    outbox = Outbox(tmp_path / "outbox.sqlite")
    pipeline = CameraPipeline(
        camera,
        url,
        make_detector(camera.detect, "ssdlite"),
        outbox,
        site="riverside",
        node="gw-plaza",
        topic_root="vw",
        on_alert=alerts,
    )
    pipeline.source.max_backoff_s = 1.0  # reconnect within a second of the camera's return
    pipeline.start()
    return pipeline, outbox


def streaming(pipeline: CameraPipeline, alerts: Alerts) -> int:
    """Wait until frames flow and the start is settled; the number of alerts so far.

    Opening a stream takes FFmpeg ~2.7 s here, longer than the test's 1.5 s lost_after_s, so
    a start may raise stream_lost and clear it on the first frame: those are not the test's."""
    assert wait_until(lambda: pipeline.stats.snapshot().process_fps > 0)

    def settled() -> bool:
        lost = [a.severity for a in alerts.seen if a.kind == "stream_lost"]
        return not pipeline.health.raised and lost.count("major") == lost.count("info")

    assert wait_until(settled)
    return len(alerts.seen)


def test_a_camera_reboot_is_reported_as_stream_lost_and_the_agent_reconnects(camera, tmp_path):
    alerts = Alerts()
    pipeline, outbox = start_pipeline(camera.url(), tmp_path, alerts)
    try:
        mark = streaming(pipeline, alerts)
        camera.stop()  # power off
        assert wait_until(lambda: alerts.has("stream_lost", "major", mark))
        assert not pipeline.source.connected
        connects = camera.connects
        camera.start()  # back on the same address; nobody touches the agent
        assert wait_until(lambda: alerts.has("stream_lost", "info", mark))
        assert camera.connects > connects
        assert pipeline.source.connected
    finally:
        pipeline.stop()
        outbox.close()
    lost = [(a.severity, a.message) for a in alerts.seen[mark:] if a.kind == "stream_lost"]
    assert [s for s, _ in lost] == ["major", "info"], lost
    assert lost[1][1] == "Camera stream is back (camera lawn)"
    assert pipeline.source.reconnects >= 1
    assert all(camera.password not in a.message for a in alerts.seen)


def test_wrong_credentials_raise_a_health_alert_and_a_clear_error(shared_camera, tmp_path, caplog):
    alerts = Alerts()
    before = shared_camera.connects
    with caplog.at_level(logging.ERROR, logger="edge.capture"):
        pipeline, outbox = start_pipeline(shared_camera.url(password="guess"), tmp_path, alerts)
        try:
            assert wait_until(lambda: alerts.has("stream_lost", "major"))
            error = pipeline.source.last_error or ""
        finally:
            pipeline.stop()
            outbox.close()
    assert "camera lawn" in error and "refused the username or password" in error
    assert "guess" not in caplog.text and "guess" not in error
    assert any("refused the username or password" in r.getMessage() for r in caplog.records)
    # One attempt (FFmpeg's connection and the probe's), then a minute's wait: no storm.
    assert shared_camera.connects - before <= 2
    assert [a.kind for a in alerts.seen] == ["stream_lost"]
    # The officer's alert says why: a password to fix, not a technician to send.
    assert "refused the username or password" in alerts.seen[0].message


def test_a_stalled_stream_is_reported_lost_and_clears_when_it_resumes(camera, tmp_path):
    alerts = Alerts()
    pipeline, outbox = start_pipeline(camera.url(), tmp_path, alerts)
    try:
        mark = streaming(pipeline, alerts)
        camera.stall()  # the session stays open, RTSP still answers, no frames
        assert wait_until(lambda: alerts.has("stream_lost", "major", mark))
        camera.resume()
        assert wait_until(lambda: alerts.has("stream_lost", "info", mark))
    finally:
        pipeline.stop()
        outbox.close()
    lost = [a.severity for a in alerts.seen[mark:] if a.kind == "stream_lost"]
    assert lost == ["major", "info"], lost
