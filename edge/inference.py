"""``InferenceWorker``: one inference worker per gateway, serving every camera's detector runs.

::

    worker = InferenceWorker(threads=2)
    detector = worker.detector("plaza", make_detector(settings, "centernet", sessions))
    worker.start()
    found = detector.detect(frame, regions)   # the camera's own thread waits for its turn
    ...
    worker.stop()

Why one worker and not a session per camera: a gateway has 2-4 cores, and N cameras each
calling the network from their own thread made N concurrent runs fight over them. Each
concurrent run also grows onnxruntime's activation arena (a shared session still grew to
~1 GB for 8 cameras), and the OS, not the project, decided who waited. Here the gateway runs
at most ``threads`` networks at a time (one onnxruntime intra-op thread each: on this CPU two
single-threaded runs in parallel give more runs per second than one run on two threads), and
the cameras' capture, motion and tracking threads keep the CPU time the network leaves.

**Fairness.** Requests wait per camera; the worker serves the cameras that have requests
*round-robin*, one request per turn. A camera that submits many requests (a busy scene, or a
caller using :meth:`InferenceWorker.submit` directly) gets one turn per round like any other,
so it can never starve a quiet camera of its minimum rate: with ``k`` cameras waiting, a
camera's request waits at most ``k - 1`` other runs per worker thread. The pipeline calls
:meth:`SharedDetector.detect`, which waits for its own result, so each camera has at most one
request queued and the camera pipeline still reads as a straight line.

**Batching** several cameras' regions into one run is not done: the default CenterNet file
has a fixed batch of 1, and for SSDLite (dynamic batch) one batch of 4 crops took about as
long as 4 single runs on 1 thread here (see the report of issue 11), so batching would only
add waiting.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from edge.detections import Detections
from edge.detectors import Detector, Region

log = logging.getLogger(__name__)


class WorkerStopped(RuntimeError):
    """The inference worker stopped before it ran a request."""


@dataclass(eq=False)
class Request:
    """One detector run asked for by one camera; :meth:`result` waits for it."""

    camera: str
    detector: Detector
    image: np.ndarray
    regions: Sequence[Region] | None
    low_score: float | None
    submitted: float
    done: threading.Event = field(default_factory=threading.Event)
    found: Detections | None = None
    error: BaseException | None = None
    inference_ms: float = 0.0
    wait_s: float = 0.0

    def result(self, timeout: float | None = None) -> Detections:
        """The detections (raises what the run raised, or :class:`WorkerStopped`)."""
        if not self.done.wait(timeout):
            raise TimeoutError(f"camera {self.camera}: no detector result in {timeout} s")
        if self.error is not None:
            raise self.error
        assert self.found is not None
        return self.found


@dataclass
class CameraService:
    """What the worker did for one camera (counts; wait in the worker's clock)."""

    served: int = 0
    waited_s: float = 0.0

    @property
    def mean_wait_ms(self) -> float:
        return 1000.0 * self.waited_s / self.served if self.served else 0.0


def default_threads() -> int:
    """Worker threads for this machine: one per core the process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class InferenceWorker:
    """The gateway's detector runs, ``threads`` at a time, round-robin over cameras.

    ``clock`` stamps requests to measure their wait (tests inject one; nothing here sleeps
    on it). ``start()`` / ``stop()`` like the gateway's other workers; requests submitted
    before ``start()`` wait for it (tests queue a known backlog that way).
    """

    def __init__(self, threads: int | None = None, clock: Callable[[], float] = time.monotonic):
        self.threads = threads or default_threads()
        self.clock = clock
        self._cond = threading.Condition()
        self._queues: dict[str, deque[Request]] = {}
        #: Cameras with requests waiting, in the order they get their next turn.
        self._turns: deque[str] = deque()
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self.service: dict[str, CameraService] = {}
        #: Cameras in the order their requests were taken (tests read it; bounded).
        self.order: deque[str] = deque(maxlen=10_000)

    # --- the cameras' side ------------------------------------------------------------------

    def detector(self, camera: str, detector: Detector) -> SharedDetector:
        """``detector`` (its own settings and score floors; its session may be shared) run
        by this worker on behalf of ``camera``."""
        return SharedDetector(self, camera, detector)

    def submit(
        self,
        camera: str,
        detector: Detector,
        image: np.ndarray,
        regions: Sequence[Region] | None = None,
        *,
        low_score: float | None = None,
    ) -> Request:
        """Queue a run for ``camera``; returns at once (``Request.result()`` waits)."""
        request = Request(camera, detector, image, regions, low_score, self.clock())
        with self._cond:
            if self._stop.is_set():
                raise WorkerStopped("inference worker is stopped")
            queue = self._queues.setdefault(camera, deque())
            if not queue:
                self._turns.append(camera)
            queue.append(request)
            self._cond.notify()
        return request

    def pending(self) -> int:
        with self._cond:
            return sum(len(q) for q in self._queues.values())

    # --- the worker's side ------------------------------------------------------------------

    def start(self) -> None:
        for i in range(self.threads):
            t = threading.Thread(target=self._serve, name=f"vw-inference-{i}", daemon=True)
            t.start()
            self._workers.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        """Finish the runs in progress, fail the ones still waiting (their cameras see
        :class:`WorkerStopped`), and join the threads."""
        with self._cond:
            self._stop.set()
            self._cond.notify_all()
        for t in self._workers:
            t.join(timeout)
        with self._cond:
            for queue in self._queues.values():
                for request in queue:
                    request.error = WorkerStopped("inference worker stopped")
                    request.done.set()
                queue.clear()
            self._turns.clear()

    def _next(self) -> Request | None:
        """The next request, round-robin over cameras; None once stopped."""
        with self._cond:
            while not self._turns and not self._stop.is_set():
                self._cond.wait()
            if self._stop.is_set():
                return None
            camera = self._turns.popleft()
            queue = self._queues[camera]
            request = queue.popleft()
            if queue:  # more from this camera: back of the line, after everyone waiting
                self._turns.append(camera)
            self.order.append(camera)
            return request

    def _serve(self) -> None:
        while (request := self._next()) is not None:
            request.wait_s = max(0.0, self.clock() - request.submitted)
            try:
                request.found = request.detector.detect(
                    request.image, request.regions, low_score=request.low_score
                )
                request.inference_ms = request.detector.last_inference_ms
            except Exception as exc:  # the camera's thread re-raises it; the worker goes on
                request.error = exc
            with self._cond:
                service = self.service.setdefault(request.camera, CameraService())
                service.served += 1
                service.waited_s += request.wait_s
            request.done.set()


class SharedDetector:
    """A camera's :class:`~edge.detectors.Detector` whose runs go through the gateway's
    :class:`InferenceWorker`: same interface, so :class:`~edge.processor.FrameProcessor`
    neither knows nor cares. ``last_wait_ms`` is how long the last run waited for its turn."""

    def __init__(self, worker: InferenceWorker, camera: str, detector: Detector) -> None:
        self.worker = worker
        self.camera = camera
        self.inner = detector
        self.model = detector.model
        self.labels = detector.labels
        self.input_size = detector.input_size
        self.last_inference_ms = 0.0
        self.last_wait_ms = 0.0

    def detect(
        self,
        image: np.ndarray,
        regions: Sequence[Region] | None = None,
        *,
        low_score: float | None = None,
    ) -> Detections:
        """Objects in ``image``, run by the worker in this camera's turn; waits for them."""
        request = self.worker.submit(self.camera, self.inner, image, regions, low_score=low_score)
        found = request.result()
        self.last_inference_ms = request.inference_ms
        self.last_wait_ms = 1000.0 * request.wait_s
        return found
