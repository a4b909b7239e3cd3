"""A per-token request limit: at most ``n`` requests in any 60 seconds (a sliding log).

Hand-written rather than from a library on purpose: it must run on the hub's injected clock
(tests step a :class:`hub.clock.ManualClock` instead of sleeping) and hold one small deque
per token. ``pyrate-limiter``, the library we do have (a test tool's dependency), keeps its
own clocks and buckets and is not a runtime dependency of the hub.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from datetime import datetime, timedelta

WINDOW = timedelta(seconds=60)


class SlidingWindowLimiter:
    """``allow(key, limit, now)`` → 0 when the request may go ahead (it is counted), else
    the whole seconds to wait. Memory: at most ``limit`` timestamps per live token."""

    def __init__(self) -> None:
        self._log: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, limit: int, now: datetime) -> int:
        with self._lock:
            log = self._log.setdefault(key, deque())
            while log and log[0] <= now - WINDOW:
                log.popleft()
            if len(log) >= limit:
                wait = (log[0] + WINDOW - now).total_seconds()
                return min(60, max(1, math.ceil(wait)))  # a clock set back: at most a window
            log.append(now)
            return 0

    def forget(self, key: str) -> None:
        """Drop a revoked token's log."""
        with self._lock:
            self._log.pop(key, None)
