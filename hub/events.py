"""The hub's one in-process event bus: typed events, ids, and resume after a reconnect.

Publishers (ingest on paho's thread, API handlers, the escalation worker) call
:meth:`EventBus.publish` with a typed event. Two kinds of subscriber listen:

* **handlers** (:meth:`EventBus.on`): plain callables run on the publisher's thread, for
  notifiers and workers. They must be quick (queue the work); one that raises is logged and
  the others still run.
* **streams** (:meth:`EventBus.subscribe`): asyncio queues for the SSE live feed. Publishing
  never blocks and never touches a queue directly: the put is scheduled on the stream's loop.

Every event gets an id ``<run>-<n>``. The bus keeps the last ``replay_size`` events, so a
browser that reconnects with ``Last-Event-ID`` gets exactly the events it missed. If it asks
for an id the bus no longer holds (too old, or from before a hub restart), or falls so far
behind that events had to be dropped, its stream starts with :class:`Resync`: reload the
lists through the API.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from hub.domain.alerts import AlertRecord
from hub.domain.incidents import Incident
from hub.domain.nodes import NodeState
from hub.domain.units import Assignment, Unit

log = logging.getLogger(__name__)


class HubEvent(BaseModel):
    """Base of every event; ``name`` is the SSE ``event:`` field."""

    model_config = ConfigDict(frozen=True)
    name: ClassVar[str]


class AlertStored(HubEvent):
    name = "alert"
    alert: AlertRecord


class SnapshotArrived(HubEvent):
    name = "snapshot"
    alert_id: str


class NodeChanged(HubEvent):
    name = "node"
    node: NodeState


class IncidentChanged(HubEvent):
    """An incident was opened, joined by an alert, moved, noted or escalated."""

    name = "incident"
    incident: Incident
    change: str  # opened, alert_added, acknowledge, resolve ..., note, attachment, escalated


class UnitChanged(HubEvent):
    """A patrol unit was created, changed, moved, or its availability followed its order."""

    name = "unit"
    unit: Unit
    change: str  # created, updated, position, busy, available


class AssignmentChanged(HubEvent):
    """A unit was dispatched, or its assignment took a step (accept, en_route ...)."""

    name = "assignment"
    assignment: Assignment
    change: str  # dispatched, accept, en_route, on_scene, resolve, release, time_out
    callsign: str


class DispatchTimeout(HubEvent):
    """A dispatched unit did not accept in time: the duty desk must send another."""

    name = "dispatch_timeout"
    assignment: Assignment
    callsign: str


class Resync(HubEvent):
    """The stream could not give every missed event: reload from the API."""

    name = "resync"


class Shutdown(HubEvent):
    """The hub is stopping; streams end and browsers reconnect later."""

    name = "shutdown"


@dataclass(frozen=True)
class Envelope:
    id: str
    event: HubEvent


Handler = Callable[[HubEvent], None]


class Stream:
    """One live subscriber's queue. Create with :meth:`EventBus.subscribe` inside the loop."""

    def __init__(self, bus: EventBus, loop: asyncio.AbstractEventLoop, max_backlog: int) -> None:
        self._bus = bus
        self.loop = loop
        self.max_backlog = max_backlog
        self.queue: asyncio.Queue[Envelope] = asyncio.Queue()
        self.dropped = 0

    def _put(self, envelope: Envelope) -> None:
        """Runs in the stream's loop. A client this far behind is told to resync."""
        if self.queue.qsize() >= self.max_backlog:
            while not self.queue.empty():
                self.queue.get_nowait()
                self.dropped += 1
            self.queue.put_nowait(Envelope(envelope.id, Resync()))
            return
        self.queue.put_nowait(envelope)

    async def get(self, timeout: float | None = None) -> Envelope | None:
        """The next event, or None after ``timeout`` seconds without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventBus:
    """Thread-safe publish to handlers and to any number of asyncio streams."""

    def __init__(self, replay_size: int = 10_000, max_backlog: int = 1_000) -> None:
        self.run_id = secrets.token_hex(4)  # ids of an earlier run are never resumed
        self.max_backlog = max_backlog
        self._numbers = itertools.count(1)
        self._recent: deque[Envelope] = deque(maxlen=replay_size)
        self._streams: set[Stream] = set()
        self._handlers: list[Handler] = []
        self._lock = threading.Lock()

    def on(self, handler: Handler) -> None:
        """Call ``handler(event)`` for every event, on the publisher's thread."""
        with self._lock:
            self._handlers.append(handler)

    def publish(self, event: HubEvent) -> Envelope:
        """Send ``event`` everywhere; callable from any thread, never blocks on a stream."""
        with self._lock:
            envelope = Envelope(f"{self.run_id}-{next(self._numbers)}", event)
            self._recent.append(envelope)
            streams, handlers = list(self._streams), list(self._handlers)
        for stream in streams:
            try:
                stream.loop.call_soon_threadsafe(stream._put, envelope)
            except RuntimeError:  # its loop has closed: the server is gone
                self.unsubscribe(stream)
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler %r failed on %s", handler, event.name)
        return envelope

    def subscribe(self, last_event_id: str | None = None) -> Stream:
        """A stream of events from now on; call from a coroutine. With ``last_event_id`` it
        first holds every event after that one (or a :class:`Resync` if they are gone)."""
        stream = Stream(self, asyncio.get_running_loop(), self.max_backlog)
        with self._lock:
            if last_event_id:
                for envelope in self._missed(last_event_id):
                    stream._put(envelope)
            self._streams.add(stream)
        return stream

    def _missed(self, last_event_id: str) -> list[Envelope]:
        run, _, number = last_event_id.partition("-")
        recent = list(self._recent)
        if run == self.run_id and number.isdigit():
            after = int(number)
            oldest = int(recent[0].id.split("-")[1]) if recent else after + 1
            if oldest <= after + 1:
                return [e for e in recent if int(e.id.split("-")[1]) > after]
        last = recent[-1].id if recent else f"{self.run_id}-0"
        return [Envelope(last, Resync())]

    def unsubscribe(self, stream: Stream) -> None:
        with self._lock:
            self._streams.discard(stream)

    @property
    def stream_count(self) -> int:
        with self._lock:
            return len(self._streams)

    def close(self) -> None:
        """Tell every stream to end (the hub is stopping)."""
        self.publish(Shutdown())
