"""``EdgeAgent``: everything one camera gateway runs — its cameras, outbox and publisher.

::

    agent = EdgeAgent(config, "gw-plaza", NodeConnection.load(path), on_alert=print)
    agent.start()      # returns at once; works even while the broker is still down
    ...
    agent.stop()

Each camera gets its own :class:`~edge.pipeline.CameraPipeline` with a detector of the model
its rules need (:func:`edge.detectors.choose_model`); cameras on the same model share one
network session (:class:`~edge.detectors.SessionPool`: a session per camera cost ~110 MB
each), and their detector runs go through the gateway's one
:class:`~edge.inference.InferenceWorker`, a few at a time and round-robin over cameras. They
share one :class:`~edge.faces.FaceBlurrer` for their snapshots, and queue alerts in one
:class:`~edge.outbox.Outbox` under the gateway's
``data_dir``, which one :class:`~edge.publisher.Publisher` drains to the broker whenever it
is reachable. The broker may not exist yet when the agent starts, and may restart at any
time: alerts wait in the outbox and are delivered once it is back. An alert leaves the
outbox only when the hub's receipt says it is stored (protocol v2, docs/protocol.md).

On the same link the agent takes the hub's commands: live-view leases
(:class:`~edge.live.LiveStreamer`) and video-verification requests, answered from each
camera's :class:`~edge.pre_event.PreEventBuffer` by the
:class:`~edge.verification.EvidenceResponder`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

import cv2

from contract.connection import NodeConnection
from contract.face_descriptor import FaceDescriber
from contract.protocol import Alert, NodeRole, NodeStats, utc_now
from contract.siteconfig import SiteConfig
from edge.camera_stats import ring_counts
from edge.detectors import SessionPool, choose_model, make_detector
from edge.face_watch import build_face_watch
from edge.faces import FaceBlurrer
from edge.inference import InferenceWorker
from edge.live import LiveStreamer
from edge.outbox import Outbox
from edge.pipeline import CameraPipeline
from edge.plate_ocr import PlateOCR
from edge.plates import PlateReader
from edge.pre_event import PreEventBuffer
from edge.publisher import Publisher
from edge.verification import CameraFeed, EvidenceResponder
from edge.watchlist import WatchlistHolder

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.sqlite"


class EdgeAgent:
    """A camera gateway. Construct, :meth:`start`, later :meth:`stop`."""

    def __init__(
        self,
        config: SiteConfig,
        gateway_node: str,
        connection: NodeConnection,
        data_dir: Path | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        *,
        stats_interval_s: float = 30.0,
        live_clock: Callable[[], float] = time.monotonic,
        inference_threads: int | None = None,
        verify_clock: Callable[[], float] = time.monotonic,
        face_describer: FaceDescriber | None = None,
    ) -> None:
        """Raises ``ValueError`` for a gateway not in ``config``, a connection file of
        another node, or a camera whose ``detect.model`` cannot see what its rules watch.
        ``live_clock`` measures the live view's leases, ``verify_clock`` the pre-event buffers
        and verification windows (tests move them).
        ``inference_threads``: detector runs at a time (default: one per core).
        ``face_describer``: the face models to use when the site enables face recognition
        (default: a new :class:`FaceDescriber`); ignored, and none is made, when it does not."""
        try:
            gateway = config.gateway(gateway_node)
        except KeyError as exc:
            raise ValueError(str(exc).strip("'\"")) from None
        if connection.site != config.site.id or connection.node != gateway_node:
            raise ValueError(
                f"connection file is for {connection.site}/{connection.node}, "
                f"but this agent is {config.site.id}/{gateway_node}"
            )
        if connection.role is not NodeRole.CAMERA_GATEWAY:
            raise ValueError(f"connection file role is {connection.role}, not camera_gateway")
        # Each camera already has its own threads; OpenCV's worker pool on top of them only
        # spins (it raised a camera's CPU time by ~30% on 2 cores for no gain in latency).
        cv2.setNumThreads(1)
        self.config = config
        self.gateway = gateway
        self.connection = connection
        self.data_dir = Path(data_dir) if data_dir else config.resolve(gateway.data_dir)
        self._outbox = Outbox(self.data_dir / OUTBOX_FILE)
        self._started_at: float | None = None
        #: One face blurrer for the whole gateway: it is thread-safe; its model loads in
        #: :meth:`start`, so the first alert does not wait ~0.4-0.5 s for it.
        self.blurrer = FaceBlurrer()
        #: One session per model for all cameras, run by one worker.
        self.inference = InferenceWorker(inference_threads)
        self.sessions = SessionPool(parallel=self.inference.threads)
        #: The live view: streams a camera only while the hub holds a lease on it.
        self.live = LiveStreamer(
            connection.site,
            connection.node,
            connection.topic_root,
            self._publish_live,
            self.blurrer,
            clock=live_clock,
        )
        #: Video verification: each camera's last seconds, and the answers to the hub.
        self.pre_event = {c.name: PreEventBuffer(clock=verify_clock) for c in gateway.cameras}
        self.verification = EvidenceResponder(
            connection.site,
            connection.node,
            connection.topic_root,
            self._publish_evidence,
            {c.name: CameraFeed(self.pre_event[c.name], c.privacy) for c in gateway.cameras},
            self.blurrer,
            clock=verify_clock,
        )
        #: The hub's watchlist for this gateway (plates; faces under their authorisation).
        self.watchlist = WatchlistHolder(connection.site, connection.node, connection.topic_root)
        self.publisher = Publisher(
            connection,
            self._outbox,
            stats=self.stats,
            stats_interval_s=stats_interval_s,
            commands={
                self.live.request_topic: self.live.on_request,
                self.verification.request_topic: self.verification.on_request,
                self.watchlist.topic: self.watchlist.on_update,
            },
        )
        #: One OCR engine for the cameras that read plates (loaded on the first read).
        self.plate_ocr = PlateOCR()
        #: The face models, shared by the cameras; None (never built) unless the site enables
        #: face recognition. Loaded in :meth:`start`.
        self.face_describer: FaceDescriber | None = None
        faces_on = config.watchlists.faces

        def describer() -> FaceDescriber:
            if self.face_describer is None:
                self.face_describer = face_describer or FaceDescriber()
            return self.face_describer

        self.pipelines: list[CameraPipeline] = []
        for camera in gateway.cameras:
            plates = (
                PlateReader(camera, config.watchlists.plates, self.watchlist, self.plate_ocr)
                if camera.plates
                else None
            )
            faces = build_face_watch(camera, faces_on, self.watchlist, describer)
            source = config.resolve_source(camera.detect_source or camera.source)
            main = config.resolve_source(camera.source) if camera.detect_source else None
            self.pipelines.append(
                CameraPipeline(
                    camera,
                    source,
                    self.inference.detector(
                        camera.name,
                        make_detector(camera.detect, choose_model(camera), self.sessions),
                    ),
                    self._outbox,
                    site=connection.site,
                    node=connection.node,
                    topic_root=connection.topic_root,
                    timezone=config.site.timezone,
                    on_alert=on_alert,
                    on_queued=self.publisher.kick,
                    blurrer=self.blurrer,
                    live=self.live,
                    main_source=main,
                    quiet_cells=self.data_dir / "quiet_cells" / f"{camera.name}.npz",
                    pre_event=self.pre_event[camera.name],
                    stages=[stage for stage in (plates, faces) if stage is not None],
                )
            )

    def _publish_live(self, topic: str, payload: bytes) -> bool:
        """Live frames: QoS 0, never retained, skipped while the link is backed up (a late
        frame is worth nothing)."""
        return self.publisher.link.offer(topic, payload)

    def _publish_evidence(self, topic: str, payload: bytes) -> bool:
        """Verification evidence: QoS 1 (the hub must get it), not queued in the outbox (an
        answer minutes late, after a broker outage, verifies nothing)."""
        return self.publisher.link.publish(topic, payload, qos=1) is not None

    @property
    def outbox(self) -> Outbox:
        return self._outbox

    def start(self) -> None:
        """Start publishing and all cameras; returns at once (nothing here waits for the broker)."""
        self._started_at = time.monotonic()
        if any(p.camera.privacy.blur_faces for p in self.pipelines):
            self.blurrer.load()
        if self.face_describer is not None:
            self.face_describer.load()
        self.inference.start()
        self.live.start()
        self.verification.start()
        self.publisher.start()
        for p in self.pipelines:
            p.start()
        log.info(
            "edge agent %s started with %d camera(s)", self.connection.node, len(self.pipelines)
        )

    def stop(self) -> None:
        """Stop the cameras first (no new alerts), then the publisher, then close the outbox.

        Alerts still in the outbox are kept on disk and sent after the next start.
        """
        for p in self.pipelines:
            p.stop()
        self.inference.stop()
        self.live.stop()
        self.verification.stop()
        self.publisher.stop()
        self._outbox.close()

    def wait_played(self, timeout: float | None = None) -> bool:
        """For file sources that do not loop: wait until every frame has been processed and
        every alert queued (replays of recorded footage, tests)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for p in self.pipelines:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            if not p.drained.wait(left):
                return False
        return True

    def stats(self) -> NodeStats:
        uptime = time.monotonic() - self._started_at if self._started_at else 0.0
        return NodeStats(
            site=self.connection.site,
            node=self.connection.node,
            ts=utc_now(),
            uptime_s=round(uptime, 1),
            outbox_pending=self._outbox.pending_count(),
            # With each camera's crowd ring counts: the hub adds them up for event rings.
            cameras={
                p.camera.name: p.stats.snapshot(*ring_counts(p.processor.rules))
                for p in self.pipelines
            },
        )
