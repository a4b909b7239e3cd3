"""A background thread that runs one step periodically until stopped.

The hub's background jobs (sending notifications, escalating incidents, retention) are each a
:class:`PeriodicWorker` around their own ``tick``/``deliver_due``: the thread, its stop and
its error handling are written once, here.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicWorker:
    """Calls ``step()`` every ``interval_s`` seconds (sooner when :attr:`wakeup` is set) on a
    daemon thread. A step that raises is logged and the loop goes on: one bad row must not
    end the job for good. Tests call the step directly instead of starting it.
    """

    def __init__(self, name: str, step: Callable[[], object], interval_s: float) -> None:
        self.name = name
        self.step = step
        self.interval_s = interval_s
        self.wakeup = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.wakeup.clear()  # before the step: a wake-up during it is not lost
            try:
                self.step()
            except Exception:
                log.exception("%s: step failed", self.name)
            self.wakeup.wait(self.interval_s)
