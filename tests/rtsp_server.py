"""A real RTSP camera for the tests: GStreamer's RTSP server serving a video file as H.264.

Run it with Debian's system Python (``/usr/bin/python3``), which has ``python3-gi`` and
``gir1.2-gst-rtsp-server-1.0``; the project's venv has neither, so the tests start this
script as a separate process (:mod:`tests.rtsp_kit`). Debian packages it needs:
``gir1.2-gst-rtsp-server-1.0 python3-gi gstreamer1.0-plugins-base gstreamer1.0-plugins-good
gstreamer1.0-plugins-ugly gstreamer1.0-libav`` (installed by ``.ci/system-packages``).

What it does, like an IP camera:

* At start it transcodes the file once (``decodebin ! x264enc``, one key frame a second, no
  B-frames) into H.264 access units held in memory, or loads them from ``--cache``. Every
  client session then plays them in a loop at the file's frame rate through
  ``appsrc ! rtph264pay``, time-stamped by the pipeline clock (``do-timestamp``), so the
  stream is live and loops seamlessly.
* ``rtsp://HOST:PORT/PATH`` needs a username and password (RTSP digest by default, or basic),
  checked by GstRtspServer's ``RTSPAuth``. The client picks UDP or TCP (interleaved) transport.
* It reads commands on stdin, one per line: ``stall`` (sessions stay open and RTSP keeps
  answering, but no frames come after a session's first: a hung encoder), ``resume``. End
  of stdin or SIGTERM stops it.
* It reports on stdout, one event per line: ``ready PORT``, ``connect`` (a TCP connection
  from a client: one per connection attempt), ``setup TRANSPORT`` (the Transport header a
  client asked for), ``play``, ``stalled``, ``resumed``.

Port reuse: GstRtspServer binds with SO_REUSEADDR, so a "rebooted" camera can listen on the
same port at once.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import struct
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: E402

ROLE = "camera-user"


def say(line: str) -> None:
    print(line, flush=True)


def transcode(path: str) -> tuple[list[bytes], int, int, tuple[int, int]]:
    """The file's video as H.264 access units (byte-stream), plus width, height, rate."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{path}" ! decodebin ! videoconvert ! video/x-raw,format=I420 ! '
        "x264enc tune=zerolatency speed-preset=ultrafast key-int-max=10 bframes=0 "
        "option-string=repeat-headers=1 ! "
        "video/x-h264,stream-format=byte-stream,alignment=au,profile=constrained-baseline ! "
        "appsink name=out sync=false"
    )
    sink = pipeline.get_by_name("out")
    pipeline.set_state(Gst.State.PLAYING)
    units: list[bytes] = []
    caps = None
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        caps = sample.get_caps()
        buf = sample.get_buffer()
        units.append(buf.extract_dup(0, buf.get_size()))
    pipeline.set_state(Gst.State.NULL)
    if not units or caps is None:
        raise SystemExit(f"rtsp_server: no video frames in {path}")
    s = caps.get_structure(0)
    ok, num, den = s.get_fraction("framerate")
    rate = (num, den) if ok and num > 0 else (10, 1)
    return units, s.get_value("width"), s.get_value("height"), rate


def load_or_transcode(path: str, cache: str | None) -> tuple[list[bytes], int, int, tuple]:
    """:func:`transcode`, kept in ``cache`` (if given) so that a restarted server (a camera
    reboot) does not encode the file again. Format: a JSON header line, then each access
    unit as a 4-byte big-endian length and its bytes."""
    if cache and os.path.exists(cache):
        with open(cache, "rb") as f:
            head = json.loads(f.readline())
            units = []
            while size := f.read(4):
                units.append(f.read(struct.unpack(">I", size)[0]))
        return units, head["width"], head["height"], tuple(head["rate"])
    units, width, height, rate = transcode(path)
    if cache:
        tmp = f"{cache}.{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(json.dumps({"width": width, "height": height, "rate": rate}).encode() + b"\n")
            for unit in units:
                f.write(struct.pack(">I", len(unit)) + unit)
        os.replace(tmp, cache)
    return units, width, height, rate


class Camera:
    """The server, the shared stall switch and the encoded frames every session plays."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.units, width, height, (num, den) = load_or_transcode(args.file, args.cache)
        self.interval = den / num
        self.running = threading.Event()  # cleared while stalled
        self.running.set()
        self.quit = threading.Event()
        caps = (
            "video/x-h264,stream-format=byte-stream,alignment=au,"
            f"width={width},height={height},framerate={num}/{den}"
        )
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f'( appsrc name=src is-live=true do-timestamp=true format=time caps="{caps}" ! '
            "rtph264pay name=pay0 pt=96 config-interval=-1 )"
        )
        factory.set_shared(False)  # each session plays the loop from its first (key) frame
        factory.add_role_from_structure(
            Gst.Structure.new_from_string(
                f"{ROLE}, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )
        )
        factory.connect("media-configure", self._configure)

        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", ROLE)
        if args.auth == "digest":
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
            auth.add_digest(args.user, args.password, token)
        else:
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)

        self.server = GstRtspServer.RTSPServer()
        self.server.set_address("127.0.0.1")
        self.server.set_service(str(args.port))
        self.server.set_auth(auth)
        self.server.get_mount_points().add_factory(args.path, factory)
        self.server.connect("client-connected", self._client_connected)

    # --- RTSP events ------------------------------------------------------------------------

    def _client_connected(self, _server, client) -> None:
        say("connect")
        client.connect("setup-request", self._setup)
        client.connect("play-request", lambda *_: say("play"))

    def _setup(self, _client, ctx) -> None:
        ok, transport = ctx.request.get_header(GstRtsp.RTSPHeaderField.TRANSPORT, 0)
        say(f"setup {transport if ok == GstRtsp.RTSPResult.OK else '?'}")

    # --- frames -----------------------------------------------------------------------------

    def _configure(self, _factory, media) -> None:
        src = media.get_element().get_child_by_name("src")
        state = {"n": 0, "next": None}
        src.connect("need-data", self._need_data, state)

    def _need_data(self, src, _length, state) -> None:
        """Push the next frame at its time (runs on the session's streaming thread).

        While stalled a new session still gets its first frame: GStreamer writes the SDP from
        it, as a camera answers DESCRIBE from its settings even when its encoder hangs."""
        while not self.running.is_set() and state["n"] > 0:  # stalled: hold, RTSP answers
            if self.quit.wait(0.05):
                return
            state["next"] = None  # pace again from the moment we resume
        now = time.monotonic()
        if state["next"] is None:
            state["next"] = now
        if state["next"] > now:
            time.sleep(state["next"] - now)
        state["next"] += self.interval
        unit = self.units[state["n"] % len(self.units)]
        state["n"] += 1
        src.emit("push-buffer", Gst.Buffer.new_wrapped(unit))

    # --- control ----------------------------------------------------------------------------

    def commands(self, loop: GLib.MainLoop) -> None:
        """Read ``stall`` / ``resume`` from stdin; end of input stops the server."""
        for line in sys.stdin:
            word = line.strip()
            if word == "stall":
                self.running.clear()
                say("stalled")
            elif word == "resume":
                self.running.set()
                say("resumed")
        self.quit.set()
        GLib.idle_add(loop.quit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--file", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--auth", choices=("digest", "basic"), default="digest")
    parser.add_argument("--path", default="/stream1")
    parser.add_argument("--cache", help="keep the encoded frames in this file")
    args = parser.parse_args()
    Gst.init(None)
    camera = Camera(args)
    loop = GLib.MainLoop()
    if camera.server.attach(None) == 0:
        raise SystemExit(f"rtsp_server: cannot listen on 127.0.0.1:{args.port}")
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, lambda: loop.quit() or False)
    threading.Thread(target=camera.commands, args=(loop,), daemon=True).start()
    say(f"ready {camera.server.get_bound_port()}")
    loop.run()
    camera.quit.set()
    sys.stdout.flush()
    os._exit(0)  # at once, like a camera switched off: no waiting for streaming threads


if __name__ == "__main__":
    main()
