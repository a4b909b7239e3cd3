"""``CameraPipeline``: one live camera, from its stream to alerts in the outbox.

Two threads per camera, as in Frigate:

* the **capture** thread reads frames as fast as the source delivers them and leaves only the
  newest one in a one-frame slot. When processing falls behind a live source, the frame
  waiting in the slot is replaced and counted as *skipped*: the pipeline stays real-time
  instead of lagging further and further behind the camera;
* the **process** thread takes the newest frame through the shared
  :class:`~edge.processor.FrameProcessor` (privacy mask, motion, detection, tracking, rules)
  and turns each rule hit into an ``Alert`` plus its privacy-filtered snapshot
  (:func:`edge.snapshot.make_snapshot`), queued in the outbox in one transaction. It also
  shows every frame to the camera's :class:`~edge.camera_health.CameraHealth` and, while no
  frame comes, ticks it every half second, so a lost, covered or moved camera becomes an
  alert too (:mod:`edge.health_alerts`). Last, it hands the frame to the camera's
  pre-event buffer (:mod:`edge.pre_event`): the seconds before a sensor alarm, kept for the
  hub's video verification.

A camera with a ``detect_source`` (its substream) has a third thread reading the main
stream for alert snapshots only (:class:`~edge.main_stream.MainStream`); everything above
runs on the substream.

Unpaced file sources (``realtime: false``) are not live: nothing is dropped there, the capture
thread simply waits for the processor; and a file that has played to its end is finished,
not a lost stream.

Frigate's per-camera figures are kept in :class:`~edge.camera_stats.PipelineStats`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from contract.ids import new_alert_id
from contract.protocol import (
    Alert,
    alert_topic,
    encode,
    snapshot_topic,
    utc_now,
)
from contract.siteconfig import Camera
from edge.camera_health import CameraHealth, HealthEvent
from edge.camera_stats import PipelineStats
from edge.capture import Frame, FrameSource, SourceError
from edge.detectors import Detector
from edge.faces import FaceBlurrer
from edge.health_alerts import build_health_alert, health_snapshot, wants_snapshot
from edge.live import LiveStreamer
from edge.main_stream import MainStream
from edge.outbox import Outbox
from edge.pre_event import PreEventBuffer
from edge.processor import FrameProcessor, ProcessedFrame, build_alert
from edge.rules import RuleHit
from edge.snapshot import make_snapshot, match_snapshot
from edge.track_stages import TrackStage

log = logging.getLogger(__name__)

#: How often a camera's learned quiet cells are written down (and on stop): a power cut
#: loses at most this much learning.
QUIET_CELLS_SAVE_S = 60.0


class _LatestFrame:
    """A one-frame mailbox. ``put`` replaces an unread frame (live) or waits (unpaced)."""

    def __init__(self, drop_when_full: bool) -> None:
        self.drop_when_full = drop_when_full
        self._cond = threading.Condition()
        self._frame: Frame | None = None

    def put(self, frame: Frame, stop: threading.Event) -> bool:
        """Store ``frame``; returns True if an unread frame was dropped to make room."""
        with self._cond:
            if not self.drop_when_full:
                while self._frame is not None and not stop.is_set():
                    self._cond.wait(0.2)
            dropped = self._frame is not None
            # Never lose a "restarted" mark: it tells the processor to reset its history.
            if dropped and self._frame.restarted:
                frame = Frame(frame.index, frame.timestamp, frame.image, restarted=True)
            self._frame = frame
            self._cond.notify_all()
            return dropped

    def take(self, timeout: float) -> Frame | None:
        with self._cond:
            if self._frame is None:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            self._cond.notify_all()
            return frame


class CameraPipeline:
    """One camera's capture and processing threads. ``start()`` / ``stop()``."""

    def __init__(
        self,
        camera: Camera,
        source: str,
        detector: Detector,
        outbox: Outbox,
        *,
        site: str,
        node: str,
        topic_root: str,
        timezone: str = "UTC",
        on_alert: Callable[[Alert], None] | None = None,
        on_queued: Callable[[], None] | None = None,
        blurrer: FaceBlurrer | None = None,
        retry_s: float = 10.0,
        live: LiveStreamer | None = None,
        main_source: str | None = None,
        quiet_cells: Path | None = None,
        pre_event: PreEventBuffer | None = None,
        stages: Sequence[TrackStage] = (),
    ) -> None:
        """``blurrer``: the gateway's one :class:`FaceBlurrer` (thread-safe), shared by its
        cameras; by default this camera makes its own (the model loads on the first alert).
        ``live``: the gateway's live view, handed the processed frames while the hub holds
        a lease on this camera. ``main_source``: the main stream when ``source`` is the
        camera's substream (``detect_source``); alert snapshots are then taken from it.
        ``quiet_cells``: the file keeping this camera's learned barren cells across restarts
        (:mod:`edge.quiet_cells`), saved every ``QUIET_CELLS_SAVE_S`` and on stop.
        ``pre_event``: the camera's rolling buffer for video verification, the last stage
        (:mod:`edge.pre_event`). ``stages``: the camera's stages after tracking (its plate
        reader, its face watch: :mod:`edge.track_stages`)."""
        self.camera = camera
        self.source = FrameSource.for_camera(camera, source)
        self.processor = FrameProcessor(camera, detector, timezone, stages=stages)
        self.health = CameraHealth(camera.health)
        self.outbox = outbox
        self.site, self.node, self.topic_root = site, node, topic_root
        self.on_alert = on_alert
        self.on_queued = on_queued
        self.blurrer = blurrer if blurrer is not None else FaceBlurrer()
        self.retry_s = retry_s
        self.stats = PipelineStats(detect_fps_target=camera.detect.fps)
        self.alerts = 0
        self._last_frame: ProcessedFrame | None = None
        self.live = live
        self.pre_event = pre_event
        self.main = MainStream(camera, main_source, retry_s=retry_s) if main_source else None
        self._cells = self.processor.schedule.barren
        self.quiet_cells = quiet_cells if self._cells is not None else None
        if self.quiet_cells is not None and self.quiet_cells.is_file():
            self._cells.load(self.quiet_cells)
        self._cells_saved = time.monotonic()
        #: The people of the last detector run: the live view blurs their heads too.
        self._people = None
        live = self.source.stream or camera.realtime
        self._slot = _LatestFrame(drop_when_full=live)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        #: Set when a file source has played to its end (not looping).
        self.finished = threading.Event()
        #: Set once the last frame of a finished file has been processed too.
        self.drained = threading.Event()

    def start(self) -> None:
        if self.main is not None:
            self.main.start()
        for name, target in (("capture", self._capture), ("process", self._process)):
            t = threading.Thread(target=target, name=f"vw-{self.camera.name}-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout)
        if self.main is not None:
            self.main.stop(timeout)
        self._save_cells()

    def _save_cells(self) -> None:
        if self.quiet_cells is None:
            return
        try:
            self._cells.save(self.quiet_cells)
        except OSError as exc:  # a full disk must not stop the camera; it relearns
            log.warning("camera %s: cannot keep its quiet cells: %s", self.camera.name, exc)
        self._cells_saved = time.monotonic()

    # --- capture thread -------------------------------------------------------------------

    def _capture(self) -> None:
        while not self._stop.is_set():
            try:
                for frame in self.source.frames(self._stop):
                    self.stats.connected = True
                    self.stats.frame_read()
                    if self._slot.put(frame, self._stop):
                        self.stats.frame_skipped()
                if not self.camera.loop and not self.source.stream:
                    self.finished.set()
                    return
            except SourceError as exc:
                # A missing file (unplugged USB disk, typo) must not kill the gateway: say so
                # and look again later.
                log.error("camera %s: %s; retrying in %.0f s", self.camera.name, exc, self.retry_s)
            except Exception:
                log.exception("camera %s: capture failed; retrying", self.camera.name)
            self.stats.connected = False
            self._stop.wait(self.retry_s)

    # --- process thread -------------------------------------------------------------------

    def _process(self) -> None:
        while not self._stop.is_set():
            frame = self._slot.take(timeout=0.5)
            if frame is None:
                if self.finished.is_set():  # capture ended and nothing is left to process
                    self.drained.set()
                else:  # no frame for half a second: is the stream lost?
                    cause = getattr(self.source, "last_error", None)
                    self._health(self.health.tick(time.monotonic(), cause))
                continue
            try:
                result = self.processor.process(frame)
                self.stats.frame_processed(result)
                self._last_frame = result
                for hit in result.hits:
                    self._raise(result, hit)
                self._offer_live(result)
                if self.pre_event is not None:
                    self.pre_event.record(result)
                self._health(self.health.observe(frame.image, time.monotonic()))
                if time.monotonic() - self._cells_saved >= QUIET_CELLS_SAVE_S:
                    self._save_cells()
            except Exception:  # one bad frame must not stop the camera
                log.exception("camera %s: frame %d failed", self.camera.name, frame.index)

    def _offer_live(self, result: ProcessedFrame) -> None:
        """Hand the frame to the live view while someone watches (a dict look-up if not)."""
        if result.detected:
            self._people = result.detections[result.detections.label == "person"]
        if self.live is None or not self.live.wants(self.camera.name):
            return
        frame = result.frame
        self.live.offer(
            self.camera.name,
            frame.image,
            self._people,
            self.camera.privacy,
            self.processor.privacy_mask,
            # Paced and live sources stamp the wall clock at capture; a replay does not.
            captured=frame.timestamp if self._slot.drop_when_full else None,
        )

    def _snapshot(self, result: ProcessedFrame, objects, outline) -> bytes | None:
        people = result.detections[result.detections.label == "person"]
        image = result.frame.image
        if self.main is not None and (
            main := self.main.view(result.frame, objects, people, outline)
        ):
            image, objects, people, outline = main
        return make_snapshot(
            image,
            objects,
            people,
            self.camera.privacy,
            mask=self.processor.privacy_mask,
            blurrer=self.blurrer,
            outline=outline,
        )

    def _raise(self, result: ProcessedFrame, hit: RuleHit) -> None:
        """Snapshot + alert into the outbox (one transaction, seq included), then tell."""
        outline = hit.outline if hit.outline is not None else self.processor.zone_polygon(hit.rule)
        if hit.image is not None:  # a watchlist face match: its crop, unblurred
            jpeg = match_snapshot(hit.image)
        else:
            jpeg = self._snapshot(result, hit.objects, outline) if hit.snapshot else None

        def alert(alert_id: str, seq: int) -> Alert:
            return build_alert(
                hit,
                alert_id=alert_id,
                seq=seq,
                site=self.site,
                node=self.node,
                camera=self.camera,
                frame_size=result.frame.size,
                has_snapshot=jpeg is not None,
                plates=result.plates,
            )

        self._queue(alert, jpeg)

    def _health(self, events: list[HealthEvent]) -> None:
        for event in events:
            self._raise_health(event)

    def _raise_health(self, event: HealthEvent) -> None:
        """A health event becomes an alert (with a snapshot for a moved or defocused view)."""
        log.warning("camera %s: %s", self.camera.name, event.message)
        last = self._last_frame
        jpeg = None
        if wants_snapshot(event) and last is not None:
            jpeg = health_snapshot(
                last.frame.image,
                self.processor.detector,
                self.camera.privacy,
                mask=self.processor.privacy_mask,
                blurrer=self.blurrer,
            )

        def alert(alert_id: str, seq: int) -> Alert:
            return build_health_alert(
                event,
                alert_id=alert_id,
                seq=seq,
                site=self.site,
                node=self.node,
                camera=self.camera,
                when=utc_now(),
                frame_size=last.frame.size if last is not None else None,
                has_snapshot=jpeg is not None,
            )

        self._queue(alert, jpeg)

    def _queue(self, make: Callable[[str, int], Alert], jpeg: bytes | None) -> None:
        """Alert (+ snapshot) into the outbox in one transaction, seq included; then tell."""
        alert_id = new_alert_id()
        alerts: list[Alert] = []

        def messages(seq: int) -> list[tuple[str, bytes, int]]:
            alert = make(alert_id, seq)
            alerts.append(alert)
            out = [(alert_topic(self.topic_root, self.site, self.node), encode(alert), 1)]
            if jpeg is not None:
                topic = snapshot_topic(self.topic_root, self.site, self.node, alert_id)
                out.append((topic, jpeg, 1))
            return out

        self.outbox.put_numbered(messages)
        self.alerts += 1
        if self.on_queued:
            self.on_queued()
        if self.on_alert:
            try:
                self.on_alert(alerts[0])
            except Exception:
                log.exception("on_alert callback failed")
