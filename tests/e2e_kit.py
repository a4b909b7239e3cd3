"""Pieces for end-to-end runs: a whole site (real mosquitto, hub, edge agent) and an officer's
live feed read over Server-Sent Events, as the officer page reads it. Used by the e2e tests
and by ``bench/e2e_latency.py``."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from contract.siteconfig import SiteConfig, load_site_config

REPO = Path(__file__).resolve().parents[1]


@dataclass
class LiveEvent:
    kind: str
    data: dict
    arrived: float  # time.monotonic() when the block was read


class SseCollector:
    """Signs in as an officer and collects every event of ``GET /api/events`` in a thread."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, read=None))
        r = self.client.post("/api/login", json={"username": username, "password": password})
        r.raise_for_status()
        self.events: list[LiveEvent] = []
        self.connected = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._response: httpx.Response | None = None
        self._thread = threading.Thread(target=self._run, name="sse-collector", daemon=True)
        self._thread.start()
        if not self.connected.wait(10):
            raise TimeoutError("the event stream did not open")

    def _run(self) -> None:
        with self.client.stream("GET", "/api/events") as response:
            response.raise_for_status()
            self._response = response
            self.connected.set()
            kind, data = None, []
            try:
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:"):
                        data.append(line[5:].strip())
                    elif line == "" and kind:
                        event = LiveEvent(kind, json.loads("\n".join(data)), time.monotonic())
                        with self._lock:
                            self.events.append(event)
                        kind, data = None, []
            except (httpx.HTTPError, RuntimeError):
                if not self._stop.is_set():
                    raise

    def alert_ids(self) -> list[str]:
        with self._lock:
            return [e.data["id"] for e in self.events if e.kind == "alert"]

    def of_kind(self, kind: str) -> list[LiveEvent]:
        with self._lock:
            return [e for e in self.events if e.kind == kind]

    def close(self) -> None:
        self._stop.set()
        if self._response is not None:
            self._response.close()
        self.client.close()
        self._thread.join(5)


def fast_site_config(data_dir: Path, *, realtime: bool = False, loop: bool = False) -> SiteConfig:
    """The example site with the camera replaying its file as fast as it can, once, and every
    data folder under ``data_dir``."""
    config = load_site_config(REPO / "config" / "site.example.yaml")
    gateways = []
    for g in config.gateways:
        cams = [c.model_copy(update={"realtime": realtime, "loop": loop}) for c in g.cameras]
        gateways.append(
            g.model_copy(update={"cameras": cams, "data_dir": str(data_dir / "edge" / g.node)})
        )
    return config.model_copy(update={"gateways": gateways})
