"""A real RTSP camera for tests: :mod:`tests.rtsp_server` run as its own process.

GStreamer's RTSP server comes from Debian (``gir1.2-gst-rtsp-server-1.0`` with ``python3-gi``),
which only the system Python can import, so :class:`RtspCamera` starts the server script with
``/usr/bin/python3`` on a free loopback port and talks to it over its stdin/stdout:

* ``start()`` / ``stop()``: the camera boots (listening once it prints ``ready``) or loses
  power; ``start()`` again reuses the same port, as a rebooted camera keeps its address;
* ``stall()`` / ``resume()``: the encoder hangs (RTSP keeps answering, no frames) and recovers;
* ``connects``: TCP connections the server accepted (one per connection attempt);
  ``setups``: the Transport headers clients asked for.

Waiting is on conditions (:meth:`RtspCamera.wait_for`), never on fixed sleeps.
"""

from __future__ import annotations

import functools
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from conftest import EXCERPT, unavailable

from broker.mosquitto import free_port

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"
#: What the server needs, checked once: the Debian packages of .ci/system-packages.
_CHECK = """
import gi
gi.require_version("Gst", "1.0"); gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtspServer
Gst.init(None)
missing = [e for e in ("x264enc", "rtph264pay", "appsrc", "decodebin", "avdec_mpeg4", "qtdemux")
           if Gst.ElementFactory.find(e) is None]
print(" ".join(missing))
"""


@functools.cache
def _missing() -> str | None:
    """Why the RTSP server cannot run here, or None when it can."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    try:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-c", _CHECK], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "import failed"
    if done.stdout.strip():
        return f"GStreamer elements missing: {done.stdout.strip()}"
    return None


def require_rtsp_server() -> None:
    """Skip (fail in CI) unless GStreamer's RTSP server and its plugins are installed."""
    reason = _missing()
    if reason is not None:
        unavailable(
            f"GStreamer RTSP server unavailable ({reason}): apt-get install python3-gi "
            "gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-{base,good,ugly} "
            "gstreamer1.0-libav (.ci/system-packages installs them)"
        )


class RtspCamera:
    """The excerpt served as H.264 at ``rtsp://USER:PASSWORD@127.0.0.1:PORT/stream1``."""

    def __init__(
        self, cache_dir: Path, *, user: str = "viewer", password: str = "pa ss:w@rd!", auth="digest"
    ) -> None:
        self.user, self.password, self.auth = user, password, auth
        self.port = free_port()
        self.cache = cache_dir / "excerpt.h264units"
        self.connects = 0
        self.setups: list[str] = []
        self.events: list[str] = []
        self._cond = threading.Condition()
        self._proc: subprocess.Popen[str] | None = None

    def url(self, password: str | None = None) -> str:
        """The camera's URL with its credentials (or another ``password``), URL-quoted."""
        secret = quote(self.password if password is None else password, safe="")
        return f"rtsp://{quote(self.user, safe='')}:{secret}@127.0.0.1:{self.port}/stream1"

    # --- power ------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        args = [SYSTEM_PYTHON, str(SERVER), "--port", str(self.port), "--file", str(EXCERPT)]
        args += ["--user", self.user, "--password", self.password, "--auth", self.auth]
        args += ["--cache", str(self.cache)]
        proc = subprocess.Popen(
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
        )
        self._proc = proc
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()
        if not self.wait_for(lambda: "ready" in self.events or proc.poll() is not None, timeout):
            raise TimeoutError("the RTSP server did not start")
        if proc.poll() is not None:
            raise RuntimeError(f"the RTSP server exited with status {proc.returncode}")

    def stop(self) -> None:
        """Power off: the process is killed at once; its connections close (the client reads
        the end of the stream)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.kill()
        proc.wait()
        with self._cond:
            self.events = [e for e in self.events if e != "ready"]

    def stall(self) -> None:
        self._command("stall", "stalled")

    def resume(self) -> None:
        self._command("resume", "resumed")

    # --- observing --------------------------------------------------------------------------

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Wait until ``condition()`` holds (re-checked on every server event and every 0.1 s);
        the timeout only ends a test that would otherwise hang."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not condition():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.1))
        return True

    def _command(self, word: str, answer: str) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        before = self.events.count(answer)
        self._proc.stdin.write(word + "\n")
        self._proc.stdin.flush()
        assert self.wait_for(lambda: self.events.count(answer) > before, 10)

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            word, _, rest = line.strip().partition(" ")
            with self._cond:
                self.events.append(word)
                if word == "connect":
                    self.connects += 1
                elif word == "setup":
                    self.setups.append(rest)
                self._cond.notify_all()
