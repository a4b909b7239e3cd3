"""The ingest pipeline: paho's network thread queues, one writer thread group-commits.

::

    paho network thread ──submit()──> queue ──> writer thread
                                                  take a batch (all queued, up to 500,
                                                  waiting at most 20 ms for more)
                                                  Ingestor.handle_batch (ONE commit)
                                                  then: PUBACKs, receipts, events

Why: a commit with ``synchronous=FULL`` costs an fsync. One per message capped ingest at
~1,300 alerts/s; one per batch makes the fsync nearly free. The network thread does no
work but an append, so paho keeps reading at full speed.

Acknowledged only after the commit. When the store fails (disk full, I/O error, locked),
the batch is kept, nothing is acknowledged, :meth:`IngestPipeline.health` says
``degraded``, and the same batch is retried with backoff (doubling up to
``retry_max_s``) until the store takes it: recovery needs no restart. Meanwhile the broker
holds the rest (it sends no more than its in-flight window without acknowledgements).

Receipts (protocol v2): after the commit, each node gets one message on its receipt topic
naming its alerts of the batch that the hub now holds, stored now or before (a node resends
when it missed a receipt, so duplicates are receipted too).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable

from contract.mqtt import Delivery
from contract.protocol import MAX_RECEIPT_IDS, Receipt, receipt_topic
from hub.ingest import Ingestor
from hub.ingest_messages import BatchOutcome, IngestResult
from hub.storage.failures import StorageFailure

log = logging.getLogger(__name__)

#: Publishes (topic, payload) at QoS 1; returns False when it could not (not connected).
PublishFn = Callable[[str, bytes], object]
AckFn = Callable[[list[Delivery]], object]


def tune_gc_for_ingest(young_threshold: int = 20_000) -> None:
    """Make Python's cyclic garbage collector cheap at 10,000 alerts/s (process-wide).

    Each alert allocates a few dozen objects, so with the default threshold (700) the
    collector runs hundreds of times a second, and every few runs it walks *every* object
    of the hub (FastAPI, pydantic schemas, caches): a third of the writer's time in the
    bench. ``gc.freeze()`` moves what exists after start-up out of the collector's sight,
    and a larger young generation makes collections rarer. Call once, after start-up."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, old)


class IngestPipeline:
    """Batches deliveries into group commits on its own writer thread."""

    def __init__(
        self,
        ingestor: Ingestor,
        ack: AckFn,
        publish: PublishFn | None = None,
        *,
        max_batch: int = 500,
        max_wait_s: float = 0.02,
        retry_min_s: float = 0.05,
        retry_max_s: float = 5.0,
    ) -> None:
        self.ingestor = ingestor
        self._ack = ack
        self._publish = publish
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.retry_min_s = retry_min_s
        self.retry_max_s = retry_max_s
        self._queue: deque[Delivery] = deque()
        self._wake = threading.Condition()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._degraded_since: float | None = None
        self._idle = False
        #: Figures for tests and the bench: batches committed, messages decided, failures.
        self.batches = 0
        self.decided = 0
        self.storage_failures = 0
        self.on_batch: Callable[[list[Delivery], list[IngestResult]], None] | None = None

    # --- the network thread's side --------------------------------------------------------

    def submit(self, delivery: Delivery) -> None:
        """Queue one message; never blocks and never touches storage."""
        self._queue.append(delivery)  # deque.append is atomic
        # The writer sets _idle under the lock before it checks the queue, so either it
        # sees this message or it is waiting by the time the notify takes the lock.
        if self._idle or len(self._queue) >= self.max_batch:
            with self._wake:
                self._wake.notify()

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the batch in hand (if the store takes it) and stop. Queued messages are
        left unacknowledged: the broker redelivers them to the hub's persistent session."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def health(self) -> str:
        """``ok``, or ``degraded`` while the store refuses writes (acks are held)."""
        return "degraded" if self._degraded_since is not None else "ok"

    @property
    def backlog(self) -> int:
        return len(self._queue)

    # --- the writer thread ----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stopping.is_set():
            batch = self._take()
            if not batch:
                continue
            try:
                self._process(batch)
            except Exception:  # a bug here must not end ingest: the broker redelivers
                log.exception("ingest writer failed on a batch of %d", len(batch))

    def _take(self) -> list[Delivery]:
        """Whatever is queued, up to ``max_batch``. Waits for the first message, then at
        most ``max_wait_s`` for the batch to fill, and not at all once the queue stops
        growing: the broker sends only its in-flight window before it wants PUBACKs, so
        waiting for a full batch would just stall."""
        with self._wake:
            self._idle = True
            while not self._queue and not self._stopping.is_set():
                self._wake.wait(0.5)
            self._idle = False
        deadline = time.monotonic() + self.max_wait_s
        seen = -1
        while len(self._queue) < self.max_batch and len(self._queue) != seen:
            seen = len(self._queue)
            left = deadline - time.monotonic()
            if left <= 0:
                break
            with self._wake:
                self._wake.wait(min(left, 0.001))
        batch = []
        while self._queue and len(batch) < self.max_batch:
            batch.append(self._queue.popleft())
        return batch

    def _process(self, batch: list[Delivery]) -> None:
        delay = self.retry_min_s
        while True:
            try:
                outcome = self._store(batch)
                break
            except StorageFailure as exc:
                self.storage_failures += 1
                if self._degraded_since is None:
                    self._degraded_since = time.monotonic()
                    log.error(
                        "storage failed (%s): holding %d acknowledgement(s), retrying", exc,
                        len(batch),
                    )  # fmt: skip
                if self._stopping.wait(delay):
                    return  # stopping: nothing acknowledged, the broker keeps them
                delay = min(delay * 2, self.retry_max_s)
        if self._degraded_since is not None:
            log.warning(
                "storage is back after %.1f s; ingest resumed",
                time.monotonic() - self._degraded_since,
            )
            self._degraded_since = None
        self._after_commit(batch, outcome)

    def _store(self, batch: list[Delivery]) -> BatchOutcome:
        """The batch in one commit; if the batch as a whole raises (a bug outside the
        per-message savepoints), each message alone, and one that still raises is
        quarantined as ``internal_error``: decided and acknowledged, never retried."""
        try:
            return self.ingestor.handle_batch([(d.topic, d.payload) for d in batch])
        except StorageFailure:
            raise
        except Exception:
            log.exception("a batch of %d failed; storing one by one", len(batch))
        whole = BatchOutcome([])
        for d in batch:
            try:
                one = self.ingestor.handle_batch([(d.topic, d.payload)])
            except StorageFailure:
                raise
            except Exception as exc:
                one = self.ingestor.quarantine_alone(d.topic, d.payload, exc)
            whole.results.extend(one.results)
            whole.events.extend(one.events)
        return whole

    def _after_commit(self, batch: list[Delivery], outcome: BatchOutcome) -> None:
        self.batches += 1
        self.decided += len(batch)
        self._ack(batch)
        self._send_receipts(outcome.results)
        self.ingestor.publish(outcome.events)
        if self.on_batch is not None:
            self.on_batch(batch, outcome.results)

    def _send_receipts(self, results: list[IngestResult]) -> None:
        if self._publish is None:
            return
        by_node: dict[tuple[str, str], list[str]] = defaultdict(list)
        for r in results:
            if r.receipted and r.site and r.node and r.alert_id:
                by_node[(r.site, r.node)].append(r.alert_id)
        root = self.ingestor.topic_root
        for (site, node), ids in by_node.items():
            unique = list(dict.fromkeys(ids))
            for start in range(0, len(unique), MAX_RECEIPT_IDS):
                receipt = Receipt(site=site, node=node, ids=unique[start : start + MAX_RECEIPT_IDS])
                payload = receipt.model_dump_json(exclude_none=True).encode()
                try:
                    self._publish(receipt_topic(root, site, node), payload)
                except Exception:  # no receipt: the node resends, and gets one then
                    log.exception("receipt to %s/%s failed", site, node)
