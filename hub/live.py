"""``LiveRelay``: the hub's side of the live view — leases out, frames in, fanned out to viewers.

Cameras never face the officers' network: a gateway only connects out to the broker. The
relay holds its own MQTT connection (QoS 0 frames must never pass through ingest, whose
session is persistent and acknowledged by hand), on the hub listener with a client id of its
own. While a camera has at least one viewer it renews the gateway's lease every
``renew_s`` (:mod:`contract.live`); when the last viewer leaves it ends the lease at once,
and if the hub dies the lease lapses on the gateway by itself.

Frames arrive on paho's thread and are handed to each viewer's event loop. A viewer keeps
only the newest frame it has not sent yet: a slow phone skips frames, the hub never buffers
for it without bound. Each viewer also has a byte budget (``viewer_bytes_per_s``, a token
bucket one second deep); a frame that would overspend it is skipped too.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from contract.connection import NodeConnection
from contract.live import (
    LiveFrameHeader,
    LiveRequest,
    LiveSettings,
    decode_frame,
    encode_request,
    live_subscription,
    watch_topic,
)
from contract.mqtt import LinkSettings, MqttLink
from contract.protocol import Channel, ProtocolError, parse_topic

log = logging.getLogger(__name__)

CameraKey = tuple[str, str]  # (node, camera)


class TooManyViewers(Exception):
    """The camera already has ``max_viewers`` viewers."""


@dataclass
class LiveFrame:
    header: LiveFrameHeader
    jpeg: bytes
    arrived: float  # hub wall clock


@dataclass
class Viewer:
    """One open live view. Its event loop awaits :meth:`next_frame`."""

    key: CameraKey
    loop: asyncio.AbstractEventLoop
    bytes_per_s: float
    clock: Callable[[], float]
    _frame: LiveFrame | None = None
    _ended: bool = False
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _budget: float = 0.0
    _refilled: float = 0.0
    #: Frames sent, skipped (newer came first, or over the byte budget), bytes sent.
    sent: int = 0
    skipped: int = 0
    bytes: int = 0

    def __post_init__(self) -> None:
        self._budget, self._refilled = self.bytes_per_s, self.clock()

    def offer(self, frame: LiveFrame) -> None:
        """Any thread: make ``frame`` the next one (an unsent older one is skipped)."""
        self.loop.call_soon_threadsafe(self._put, frame)

    def end(self) -> None:
        """Any thread: the relay is stopping; :meth:`next_frame` returns None from now on."""
        self.loop.call_soon_threadsafe(self._end)

    def _end(self) -> None:
        self._ended = True
        self._ready.set()

    def _put(self, frame: LiveFrame) -> None:
        if self._frame is not None:
            self.skipped += 1
        self._frame = frame
        self._ready.set()

    async def next_frame(self) -> LiveFrame | None:
        """The newest frame within this viewer's byte budget (waits for one); None once the
        relay stops."""
        while True:
            await self._ready.wait()
            self._ready.clear()
            if self._ended:
                return None
            frame, self._frame = self._frame, None
            if frame is None:
                continue
            now = self.clock()
            self._budget = min(
                self.bytes_per_s, self._budget + (now - self._refilled) * self.bytes_per_s
            )
            self._refilled = now
            if len(frame.jpeg) > self._budget:
                self.skipped += 1  # over the cap: skip it, the next one may fit
                continue
            self._budget -= len(frame.jpeg)
            self.sent += 1
            self.bytes += len(frame.jpeg)
            return frame


class LiveRelay:
    """Viewers per camera, the gateways' leases, and the MQTT link for frames."""

    def __init__(
        self,
        connection: NodeConnection,
        settings: LiveSettings,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.connection = connection
        self.settings = settings
        self.clock = clock
        self.root = connection.topic_root
        self.link = MqttLink(
            LinkSettings.side_link(
                connection, "live", subscriptions=[(live_subscription(self.root), 0)]
            ),
            on_message=self._on_frame,
        )
        self._lock = threading.Lock()
        self._viewers: dict[CameraKey, list[Viewer]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Frames received since start, and refused ones (tests, bench).
        self.received = 0
        self.refused = 0

    def start(self) -> None:
        self.link.start()
        self._thread = threading.Thread(target=self._renew, name="vw-live-leases", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End every open view (so the web server can stop), then the leases and the link."""
        self._stop.set()
        with self._lock:
            viewers = [v for vs in self._viewers.values() for v in vs]
        for viewer in viewers:
            viewer.end()
        if self._thread:
            self._thread.join(5)
        self.link.stop(announce_offline=False)

    # --- viewers --------------------------------------------------------------------------

    def open(self, node: str, camera: str) -> Viewer:
        """A new viewer of ``node``'s ``camera``, on the running event loop; the gateway is
        asked at once if nobody watched it yet. :class:`TooManyViewers` over the cap."""
        key = (node, camera)
        viewer = Viewer(
            key, asyncio.get_running_loop(), self.settings.viewer_bytes_per_s, self.clock
        )
        with self._lock:
            viewers = self._viewers.setdefault(key, [])
            if len(viewers) >= self.settings.max_viewers:
                raise TooManyViewers(f"{node}/{camera} has {len(viewers)} viewers already")
            viewers.append(viewer)
            first = len(viewers) == 1
        if first:
            self._request(key, self.settings.lease_s)
        return viewer

    def close(self, viewer: Viewer) -> None:
        """The viewer left; the last one out ends the gateway's lease."""
        with self._lock:
            viewers = self._viewers.get(viewer.key, [])
            if viewer in viewers:
                viewers.remove(viewer)
            last = not viewers
            if last:
                self._viewers.pop(viewer.key, None)
        if last:
            self._request(viewer.key, 0.0)

    def viewers(self, node: str, camera: str) -> int:
        with self._lock:
            return len(self._viewers.get((node, camera), []))

    # --- leases ---------------------------------------------------------------------------

    def _request(self, key: CameraKey, lease_s: float) -> None:
        node, camera = key
        s = self.settings
        request = LiveRequest(
            site=self.connection.site,
            node=node,
            camera=camera,
            lease_s=lease_s,
            max_fps=s.max_fps,
            max_width=s.max_width,
            quality=s.quality,
        )
        topic = watch_topic(self.root, self.connection.site, node)
        if self.link.publish(topic, encode_request(request), qos=1) is None:
            log.warning("live view of %s/%s: broker not connected; retrying", node, camera)

    def _renew(self) -> None:
        """Renew every watched camera's lease each ``renew_s``; while the broker is away,
        look every half second, so a lease lost with the connection is renewed at once."""
        while not self._stop.is_set():
            connected = self.link.connected.is_set()
            if connected:
                with self._lock:
                    keys = list(self._viewers)
                for key in keys:
                    self._request(key, self.settings.lease_s)
            self._stop.wait(self.settings.renew_s if connected else 0.5)

    # --- frames (paho's thread) -----------------------------------------------------------

    def _on_frame(self, topic: str, payload: bytes) -> None:
        try:
            parsed = parse_topic(topic, self.root)
            if parsed.channel is not Channel.LIVE or parsed.site != self.connection.site:
                raise ProtocolError("bad_topic", topic)
            header, jpeg = decode_frame(payload)
            if header.camera != parsed.camera:
                raise ProtocolError("camera_mismatch", f"{header.camera} on {topic}")
        except ProtocolError as exc:
            self.refused += 1
            log.debug("refused a live frame: %s", exc)
            return
        self.received += 1
        frame = LiveFrame(header, jpeg, time.time())
        with self._lock:
            viewers = list(self._viewers.get((parsed.node, header.camera), []))
        for viewer in viewers:
            viewer.offer(frame)
