"""Fan-out of hub events from the ingest thread to live subscribers (the SSE streams).

The ingestor runs on paho's network thread; subscribers are asyncio tasks in the web
server's loop. :meth:`LiveFeed.publish` therefore never blocks and never touches a queue
directly: it schedules the put on the subscriber's loop with ``call_soon_threadsafe``. Each
subscriber has a bounded queue; when a slow phone falls behind, its *oldest* events are
dropped (and counted) so ingest never waits and the newest alerts still get through. A
client that reconnects re-reads the alert list through the API anyway.
"""

from __future__ import annotations

import asyncio
import logging
import threading

log = logging.getLogger(__name__)


#: The event that ends every stream when the hub stops.
SHUTDOWN = {"type": "shutdown"}


class Subscription:
    """One subscriber's queue. Create with :meth:`LiveFeed.subscribe` inside the loop."""

    def __init__(self, feed: LiveFeed, loop: asyncio.AbstractEventLoop, maxsize: int) -> None:
        self._feed = feed
        self.loop = loop
        self.queue: asyncio.Queue[dict] = asyncio.Queue(maxsize)
        self.dropped = 0

    def _put(self, event: dict) -> None:
        """Runs in the subscriber's loop."""
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> dict | None:
        """The next event, or None after ``timeout`` seconds without one."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None

    def close(self) -> None:
        self._feed.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LiveFeed:
    """Thread-safe publish to any number of asyncio subscribers."""

    def __init__(self, queue_size: int = 200) -> None:
        self.queue_size = queue_size
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> Subscription:
        """Call from a coroutine: the subscription belongs to the running loop."""
        sub = Subscription(self, asyncio.get_running_loop(), self.queue_size)
        with self._lock:
            self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def close(self) -> None:
        """Tell every stream to end (the hub is stopping): browsers reconnect by themselves
        once it is back, and the web server need not wait for open streams."""
        self.publish(SHUTDOWN)

    def publish(self, event: dict) -> None:
        """Send ``event`` to every subscriber; callable from any thread, never blocks."""
        with self._lock:
            subscribers = list(self._subscribers)
        for sub in subscribers:
            try:
                sub.loop.call_soon_threadsafe(sub._put, event)
            except RuntimeError:  # its loop has closed: the server is gone
                self.unsubscribe(sub)
