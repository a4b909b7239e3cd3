"""Frame sources: files numbered exactly as OpenCV reads them; streams that come back.

The "camera" for the stream tests is a real MJPEG-over-HTTP server (what many IP cameras
serve) on a free loopback port, fed with JPEGs of the excerpt. It can drop off the network
(server closed) or go silent (connection open, no frames): both must end in a reconnect.
"""

from __future__ import annotations

import http.server
import itertools
import threading
import time
from collections.abc import Iterator

import cv2
import pytest
from conftest import EXCERPT

from broker.mosquitto import free_port
from edge.capture import FrameSource, SourceError, is_stream


def test_file_frames_are_numbered_from_zero_like_opencv_with_media_timestamps():
    cap = cv2.VideoCapture(str(EXCERPT))
    reference = [cap.read()[1] for _ in range(3)]
    source = FrameSource(EXCERPT, realtime=False, start_time=1000.0)
    frames = list(source.frames())
    assert [f.index for f in frames] == list(range(200))
    assert source.fps == 10.0 and source.frame_count == 200
    assert [f.timestamp for f in frames[:3]] == [1000.0, 1000.1, 1000.2]
    assert [f.restarted for f in frames[:2]] == [True, False]
    for got, want in zip(frames, reference, strict=False):
        assert (got.image == want).all()
    assert frames[0].size == (768, 576)


def test_a_looping_file_restarts_at_frame_zero_and_time_keeps_going():
    stop = threading.Event()
    source = FrameSource(EXCERPT, realtime=False, loop=True, start_time=0.0)
    frames = list(itertools.islice(source.frames(stop), 205))
    stop.set()
    assert [f.index for f in frames[198:203]] == [198, 199, 0, 1, 2]
    assert frames[200].restarted and not frames[201].restarted
    assert frames[200].timestamp == pytest.approx(20.0)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SourceError, match="not found"):
        next(FrameSource(tmp_path / "gone.mp4").frames())
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    with pytest.raises(SourceError):
        next(FrameSource(tmp_path / "junk.mp4").frames())


def test_urls_are_streams_and_credentials_are_never_shown():
    assert is_stream("rtsp://cam/1") and is_stream("http://x/y.mjpg")
    assert not is_stream("footage/clip.mp4") and not is_stream("/abs/clip.mp4")
    assert "secret" not in repr(FrameSource("rtsp://viewer:secret@192.0.2.10:554/stream1"))


# --- a real MJPEG camera on loopback ------------------------------------------------------


class MjpegCamera:
    """multipart/x-mixed-replace JPEG stream at 20 fps; ``drop()``, ``silence()``, ``start()``."""

    def __init__(self) -> None:
        cap = cv2.VideoCapture(str(EXCERPT))
        self.jpegs = [cv2.imencode(".jpg", cap.read()[1])[1].tobytes() for _ in range(10)]
        self.port = free_port()
        self.connections = 0
        self.silent_upto = 0  # connections up to this number get no more frames
        self.server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

    def start(self) -> None:
        camera = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                camera.connections += 1
                me = camera.connections
                try:
                    for jpeg in itertools.cycle(camera.jpegs):
                        if camera.server is None or camera.server.closing:
                            return
                        if me <= camera.silent_upto:
                            time.sleep(0.05)
                            continue
                        head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                        self.wfile.write(head % len(jpeg) + jpeg + b"\r\n")
                        self.wfile.flush()
                        time.sleep(0.05)
                except OSError:
                    return

        server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.closing = False
        self.server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def drop(self) -> None:
        """The camera vanishes from the network."""
        server, self.server = self.server, None
        if server:
            server.closing = True
            server.shutdown()
            server.server_close()

    def silence(self) -> None:
        """Open connections stay open but get no more frames (a hung encoder)."""
        self.silent_upto = self.connections


@pytest.fixture
def camera() -> Iterator[MjpegCamera]:
    cam = MjpegCamera()
    cam.start()
    yield cam
    cam.drop()


def play(source: FrameSource, act, done) -> tuple[list[int], int, object]:
    """Read frames until ``done(n, restarts)``, calling ``act(n)`` on each; 30 s at most.

    Returns the positions of the frames marked ``restarted``, the last position and frame."""
    stop = threading.Event()
    restarts: list[int] = []
    watchdog = threading.Timer(30, stop.set)  # a source that never recovers ends the test
    watchdog.daemon = True
    watchdog.start()
    for n, frame in enumerate(source.frames(stop)):
        if frame.restarted:
            restarts.append(n)
        act(n)
        if done(n, restarts):
            break
    stop.set()
    watchdog.cancel()
    return restarts, n, frame


def test_a_stream_that_drops_off_the_network_is_reconnected(camera):
    source = FrameSource(camera.url, stall_s=1.0, min_backoff_s=0.2, max_backoff_s=0.5)

    def unplug_at_10(n: int) -> None:
        if n == 10:
            camera.drop()
            threading.Timer(1.5, camera.start).start()

    restarts, n, frame = play(source, unplug_at_10, lambda n, r: len(r) == 2 and n >= r[1] + 5)
    assert restarts[0] == 0 and restarts[1] > 10
    assert source.reconnects >= 1
    assert frame.index == n - restarts[1]  # indices count again from 0 after a reconnect


def test_a_stream_that_stalls_is_reconnected(camera):
    source = FrameSource(camera.url, stall_s=1.0, min_backoff_s=0.2, max_backoff_s=0.5)
    restarts, _, _ = play(
        source, lambda n: camera.silence() if n == 5 else None, lambda n, r: len(r) == 2
    )
    assert restarts[0] == 0 and restarts[1] > 5
    assert source.reconnects >= 1
