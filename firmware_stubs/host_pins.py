"""Host stand-ins for ``machine.Pin``: a pin whose level a test or the demo sets."""

import threading


class SimulatedPin:
    def __init__(self, level: int = 0) -> None:
        self._level = level
        self._lock = threading.Lock()

    def value(self, level: int | None = None) -> int:
        with self._lock:
            if level is not None:
                self._level = level
            return self._level
