"""``LiveStreamer``: a gateway's live view — frames of a camera while the hub holds a lease.

The hub asks for a camera with a :class:`~contract.live.LiveRequest` on the node's ``watch``
topic and renews it while someone watches (docs/protocol.md, *Live view*). Here:

* :meth:`LiveStreamer.on_request` (paho's thread) records the lease: the camera is wanted
  until ``lease_s`` after the request *on this gateway's clock* (injected, so tests move it);
  ``lease_s = 0`` ends it at once. Nobody asking means nothing is encoded or sent.
* the camera's process thread calls :meth:`wants` for every frame (one dict look-up) and,
  while the lease holds and the rate cap allows, :meth:`offer` hands the frame over. A
  one-frame slot per camera keeps only the newest: a slow encoder drops frames, it never
  queues them.
* the streamer's own thread makes each frame safe to leave the gateway, exactly as a
  snapshot is (:func:`edge.privacy.prepare_snapshot`: masks black, faces — and heads of
  people without a face found — blurred), only not cropped; shrinks it to ``max_width``,
  encodes the JPEG once, however many officers watch (the hub fans it out), and publishes
  it with QoS 0, not retained. If the privacy filter fails, the frame is not sent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from contract.camera_settings import PrivacySettings
from contract.live import (
    LiveFrameHeader,
    LiveRequest,
    decode_request,
    encode_frame,
    live_topic,
    watch_topic,
)
from contract.protocol import ProtocolError
from edge.detections import Detections
from edge.faces import FaceBlurrer
from edge.privacy import PrivacyMask, prepare_snapshot

log = logging.getLogger(__name__)

#: publish(topic, payload) -> sent?; the gateway's one MQTT link (QoS 0, not retained).
Publish = Callable[[str, bytes], bool]


@dataclass
class _Lease:
    request: LiveRequest
    until: float  # gateway clock


@dataclass
class _Pending:
    """The newest frame offered for a camera, not yet encoded."""

    image: np.ndarray
    people: Detections | None
    captured: float  # wall clock, for the viewer's glass-to-glass figure
    privacy: PrivacySettings
    mask: PrivacyMask


class LiveStreamer:
    """Leases, rate caps and the encoder thread of one gateway's live view."""

    def __init__(
        self,
        site: str,
        node: str,
        topic_root: str,
        publish: Publish,
        blurrer: FaceBlurrer | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.site, self.node, self.topic_root = site, node, topic_root
        self.publish = publish
        self.blurrer = blurrer
        self.clock = clock
        self.wall_clock = wall_clock
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._leases: dict[str, _Lease] = {}
        self._pending: dict[str, _Pending] = {}
        self._last_offer: dict[str, float] = {}
        self._seq: dict[str, int] = {}
        self._busy = False  # the encoder holds a frame
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Figures since start (tests, bench): frames sent, and frames dropped unsent.
        self.sent = 0
        self.dropped = 0

    @property
    def request_topic(self) -> str:
        return watch_topic(self.topic_root, self.site, self.node)

    # --- leases (paho's thread) -----------------------------------------------------------

    def on_request(self, payload: bytes) -> None:
        """A lease from the hub. A bad one changes nothing (it is logged)."""
        try:
            request = decode_request(payload, self.site, self.node)
        except ProtocolError as exc:
            log.warning("ignored a bad live request: %s", exc)
            return
        with self._lock:
            if request.lease_s == 0:
                self._leases.pop(request.camera, None)
                self._pending.pop(request.camera, None)
                log.info("live view of %s ended by the hub", request.camera)
                return
            if request.camera not in self._leases:
                log.info("live view of %s for %.0f s", request.camera, request.lease_s)
            self._leases[request.camera] = _Lease(request, self.clock() + request.lease_s)

    def streaming(self, camera: str) -> bool:
        """Does a lease for ``camera`` hold now? Forgets a lapsed one."""
        with self._lock:
            return self._lease(camera) is not None

    def _lease(self, camera: str) -> _Lease | None:
        lease = self._leases.get(camera)
        if lease is not None and self.clock() >= lease.until:
            del self._leases[camera]
            self._pending.pop(camera, None)
            log.info("live view of %s: lease lapsed", camera)
            return None
        return lease

    # --- frames (the camera's process thread) ---------------------------------------------

    def wants(self, camera: str) -> bool:
        """Should the process thread hand over this frame? (lease held, rate cap allows)"""
        if not self._leases:  # the common case, no lock: nobody watches anything
            return False
        with self._lock:
            lease = self._lease(camera)
            if lease is None:
                return False
            last = self._last_offer.get(camera)
            # The rate cap runs on real time; only leases follow the (injectable) clock.
            return last is None or time.monotonic() - last >= 1.0 / lease.request.max_fps

    def offer(
        self,
        camera: str,
        image: np.ndarray,
        people: Detections | None,
        privacy: PrivacySettings,
        mask: PrivacyMask,
        captured: float | None = None,
    ) -> None:
        """The newest frame of ``camera`` (BGR; copied here, the caller keeps its own)."""
        pending = _Pending(
            image.copy(), people, captured or self.wall_clock(), privacy.model_copy(), mask
        )
        with self._lock:
            self._last_offer[camera] = time.monotonic()
            if camera in self._pending:
                self.dropped += 1  # the encoder is behind: the older frame goes
            self._pending[camera] = pending
            self._wake.notify()

    # --- the encoder thread ---------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="vw-live", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._lock:
            self._wake.notify_all()
        if self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._pending:
                    self._wake.wait(0.5)
                if not self._pending:
                    continue
                camera = next(iter(self._pending))
                frame = self._pending.pop(camera)
                lease = self._lease(camera)
                self._busy = lease is not None
            if lease is None:
                continue
            try:
                self._send(camera, frame, lease.request)
            except Exception:  # one bad frame must not end the live view
                log.exception("live frame of %s failed; not sent", camera)
            finally:
                with self._lock:
                    self._busy = False

    def quiet(self) -> bool:
        """Nothing waiting and nothing being encoded: once a lease has ended and this is
        true, no more frames of it can be sent."""
        with self._lock:
            return not self._busy and not self._pending

    def _send(self, camera: str, frame: _Pending, request: LiveRequest) -> None:
        # The snapshot's privacy filter on the whole frame: never crop a live view.
        settings = frame.privacy.model_copy(update={"crop": False})
        safe = prepare_snapshot(
            frame.image, Detections.empty(), frame.people, settings,
            mask=frame.mask, blurrer=self.blurrer,
        ).image  # fmt: skip
        h, w = safe.shape[:2]
        if w > request.max_width:
            h, w = round(h * request.max_width / w), request.max_width
            safe = cv2.resize(safe, (w, h), interpolation=cv2.INTER_AREA)
        ok, jpeg = cv2.imencode(".jpg", safe, [cv2.IMWRITE_JPEG_QUALITY, request.quality])
        if not ok:
            return
        seq = self._seq.get(camera, 0)
        self._seq[camera] = seq + 1
        header = LiveFrameHeader(camera=camera, seq=seq, captured=frame.captured, width=w, height=h)
        topic = live_topic(self.topic_root, self.site, self.node, camera)
        if self.publish(topic, encode_frame(header, jpeg.tobytes())):
            self.sent += 1
        else:
            self.dropped += 1  # not connected: a live frame is not worth keeping
