"""Dispatch under load: 500 patrol units reporting every 5 s through the OsmAnd endpoint
while incidents are opened, suggested for and dispatched.

Real parts: the hub's own HTTP app (:class:`hub.service.HubService` composed as in the
tests, uvicorn on a free loopback port, SQLite in a temporary folder). The 500 devices run in
a child process (so their HTTP client does not share the hub's interpreter), each sending
OsmAnd GETs on its own 5 s cycle. Meanwhile this process, as the duty desk, opens an
incident every 2 s, asks for suggestions, and dispatches the best unit, while a patrol
listens on ``/api/events`` for its ``assignment`` event.

With ``--page`` (it needs Chromium at /usr/bin/chromium), the same loop also measures what
the issue asks for, the dispatch *click* to the order *showing on a patrol page*: in real
headless Chromium (Playwright, as the browser tests drive it) the duty desk (officer, desktop
window) opens each acknowledged incident from its queue and clicks "Dispatch U-000", while
the patrol's phone page (360 x 740) shows the order: its big button reads "Accept order".
Both ends are read inside the pages: the click by a capture-phase listener on the desk, the
order by a MutationObserver on the phone, at the next animation frame after the DOM shows it
(the frame that paints it); ``performance.timeOrigin + now()`` puts both on the system's
clock. Between them: the dispatch POST, the SSE ``assignment`` event, the page's
``GET /api/assignments/mine`` and its render. It is not on by default: on a 2-core machine
Chromium competes with the hub and the devices, so the ingest and suggestion figures of a
``--page`` run are lower (read them from a run without it), and the run takes longer than
the default's ~40 s.

Prints: positions stored per second (sustained over the run, against the 100/s that 500
units every 5 s need), the p50/p95 of ``GET /api/incidents/{id}/suggestions``, and the time
from the dispatch POST to the order on the patrol's live feed (and with ``--page`` from the
dispatch click to the order on the patrol's page); and the CPU this process
(the hub, plus the light desk and feed clients) used while the devices ran, as a share of
one core and per stored position, with ``--listeners`` more live feeds open (each ``unit``
event is encoded once per feed).

    .venv/bin/python bench/dispatch.py [--units 500] [--seconds 30] [--listeners 0]
                                       [--page]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

import httpx  # noqa: E402
from hub_helpers import serve_api  # noqa: E402  (tests/: the hub API composed for real)
from officer_kit import CHROMIUM, CHROMIUM_ARGS, DESK, SMALL_PHONE, sign_in  # noqa: E402
from percentile import percentile  # noqa: E402

from hub.domain.units import UnitKind  # noqa: E402
from hub.domain.users import Role  # noqa: E402

PLAZA = (51.485932, -0.124114)
PERIOD_S = 5.0


def open_call(desk: httpx.Client, title: str) -> str:
    """A phone call about the plaza, opened by the duty desk: the new incident's id."""
    r = desk.post(
        "/api/incidents",
        json={
            "source": "call",
            "kind": "burglary",
            "severity": "major",
            "title": title,
            "location": {"area": "plaza"},
        },
    )
    r.raise_for_status()
    return r.json()["id"]


def devices(url: str, trackers: list[tuple[str, str]], seconds: float, out) -> None:
    """Child process: every device sends a position every PERIOD_S until ``seconds``."""
    out.put(asyncio.run(_devices(url, trackers, seconds)))


async def _devices(url: str, trackers, seconds: float) -> dict:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    counts = {"ok": 0, "refused": 0, "error": 0, "late": 0}
    gate = asyncio.Semaphore(64)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        start = time.monotonic()

        async def device(tracker_id: str, token: str, index: int) -> None:
            rng = random.Random(index)
            lat = PLAZA[0] + rng.uniform(-0.02, 0.02)
            lon = PLAZA[1] + rng.uniform(-0.03, 0.03)
            due = start + rng.uniform(0, PERIOD_S)
            while due < start + seconds:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if time.monotonic() - due > PERIOD_S:
                    counts["late"] += 1
                lat += rng.uniform(-1e-4, 1e-4)  # ~10 m per 5 s
                lon += rng.uniform(-1e-4, 1e-4)
                params = {
                    "id": tracker_id,
                    "lat": f"{lat:.6f}",
                    "lon": f"{lon:.6f}",
                    "timestamp": str(int(time.time())),
                    "speed": "12",
                }
                try:
                    async with gate:
                        r = await client.get(f"/osmand/{token}", params=params)
                    counts["ok" if r.status_code == 200 else "refused"] += 1
                except httpx.HTTPError:
                    counts["error"] += 1
                due += PERIOD_S

        await asyncio.gather(*(device(t, k, i) for i, (t, k) in enumerate(trackers)))
        counts["elapsed_s"] = time.monotonic() - start
    return counts


class PatrolFeed:
    """A patrol's live feed on its own thread: when each assignment event arrived."""

    def __init__(self, url: str, token: str) -> None:
        self.arrived: dict[str, float] = {}
        self.ready = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, args=(url, token), daemon=True)
        self._thread.start()

    def _run(self, url: str, token: str) -> None:
        with contextlib.suppress(httpx.HTTPError):  # the hub stops at the end of the run
            self._listen(url, token)

    def _listen(self, url: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.stream("GET", url + "api/events", headers=headers, timeout=60) as response:
            event = None
            for line in response.iter_lines():
                self.ready.set()
                if self._stop:
                    return
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "assignment":
                    data = json.loads(line[6:])
                    if data["change"] == "dispatched":
                        self.arrived[data["assignment"]["id"]] = time.perf_counter()

    def stop(self) -> None:
        self._stop = True


# In the desk's page: when a "Dispatch ..." button of the suggestions is clicked (capture
# phase: before the app's own handler sends the POST).
DESK_PROBE = """() => document.addEventListener("click", (e) => {
  if (e.target.closest("#suggestions li.suggestion button")) {
    window.vwClickAt = performance.timeOrigin + performance.now();
  }
}, true)"""

# In the phone's page: a promise of the first frame showing an order other than ``prev``
# with its "Accept order" button (or a timeout after 15 s).
PHONE_PROBE = """(prev) => {
  const shown = () => {
    const order = document.getElementById("patrol-order");
    const next = document.getElementById("patrol-next");
    return !order.hidden && order.dataset.state === "dispatched" && order.dataset.id !== prev
      && !next.hidden && next.textContent === "Accept order";
  };
  window.vwOrder = new Promise((resolve) => {
    const done = () => requestAnimationFrame(() => resolve({
      id: document.getElementById("patrol-order").dataset.id,
      at: performance.timeOrigin + performance.now() }));
    const seen = new MutationObserver(() => { if (shown()) { seen.disconnect(); done(); } });
    seen.observe(document.body, { subtree: true, childList: true, characterData: true,
      attributes: true });
    setTimeout(() => { seen.disconnect(); resolve(null); }, 15000);
  });
}"""


class PagePair:
    """The duty desk's page and the patrol's phone page in one headless Chromium."""

    def __init__(self, hub, browser) -> None:
        self.hub = hub
        self.desk = browser.new_context(**DESK).new_page()
        self.phone = browser.new_context(**SMALL_PHONE).new_page()
        self.last: str | None = None  # the assignment the phone showed last

    @classmethod
    @contextlib.contextmanager
    def open(cls, hub):
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield cls(hub, browser)
            finally:
                browser.close()

    def sign_in(self, patrol_password: str) -> None:
        sign_in(self.desk, self.hub.url, "officer", self.hub.passwords["officer"])
        self.desk.evaluate(DESK_PROBE)
        sign_in(self.phone, self.hub.url, "bench-patrol", patrol_password)
        self.phone.locator("#patrol-none").wait_for()

    def dispatch_one(self, desk_api: httpx.Client, callsign: str) -> float | None:
        """An acknowledged incident opened on the desk; the click on "Dispatch
        ``callsign``" to the order showing on the phone, in ms; then the unit is released
        and both pages are back where they started."""
        incident_id = open_call(desk_api, "bench (page)")
        desk_api.post(f"/api/incidents/{incident_id}/transitions", json={"action": "acknowledge"})
        row = self.desk.locator(f'#queue li.incident[data-id="{incident_id}"]')
        row.locator(".inc-main").click()
        button = self.desk.locator(f'#suggestions li.suggestion[data-callsign="{callsign}"] button')
        button.wait_for()
        self.phone.evaluate(PHONE_PROBE, self.last)
        button.click()
        shown = self.phone.evaluate("() => window.vwOrder")
        clicked = self.desk.evaluate("() => window.vwClickAt")
        self.desk.keyboard.press("Escape")  # back to the queue
        if not shown:
            return None
        self.last = shown["id"]
        desk_api.post(f"/api/assignments/{shown['id']}/steps", json={"step": "release"})
        self.phone.locator("#patrol-none").wait_for()
        return shown["at"] - clicked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--listeners", type=int, default=0, help="extra live feeds (desks)")
    parser.add_argument(
        "--page",
        action="store_true",
        help="also the dispatch click -> order on the patrol's page, in headless Chromium",
    )
    args = parser.parse_args()
    page = args.page
    if page and not Path(CHROMIUM).exists():
        print(f"no Chromium at {CHROMIUM}: the click-to-page figure is skipped")
        page = False
    with tempfile.TemporaryDirectory() as tmp:
        hub = serve_api(Path(tmp) / "hub")
        try:
            with contextlib.ExitStack() as stack:
                pages = stack.enter_context(PagePair.open(hub)) if page else None
                run(hub, args.units, args.seconds, args.listeners, pages)
        finally:
            hub.close()


def run(hub, units: int, seconds: float, listeners: int = 0, pages=None) -> None:
    service = hub.service.dispatch
    patrol_password = hub.accounts.create_user("bench-patrol", Role.PATROL)
    trackers = []
    kinds = list(UnitKind)
    for i in range(units):
        members = ["bench-patrol"] if i == 0 else []
        unit = service.create_unit(f"U-{i:03d}", kinds[i % 3], members)
        tracker, token = service.add_tracker(unit.id, f"device {i}", f"dev-{i:03d}")
        trackers.append((tracker.id, token))
    desk = hub.client("officer")
    patrol_token, _ = hub.accounts.open_session("bench-patrol")
    feed = PatrolFeed(hub.url, patrol_token)
    feed.ready.wait(10)
    desks = [PatrolFeed(hub.url, hub.accounts.open_session("officer")[0]) for _ in range(listeners)]
    for other in desks:
        other.ready.wait(10)
    if pages:
        pages.sign_in(patrol_password)

    cpu0, wall0 = time.process_time(), time.monotonic()
    out = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(
        target=devices, args=(hub.url, trackers, seconds, out)
    )
    child.start()
    time.sleep(PERIOD_S)  # let every device report once before the desk starts
    suggest_ms, order_ms, page_ms = [], [], []
    patrol_unit = service.units_of("bench-patrol")[0]
    deadline = time.monotonic() + seconds - PERIOD_S - 2
    while time.monotonic() < deadline:
        incident_id = open_call(desk, "bench")
        t0 = time.perf_counter()
        ranked = desk.get(f"/api/incidents/{incident_id}/suggestions")
        suggest_ms.append((time.perf_counter() - t0) * 1000)
        assert ranked.status_code == 200 and len(ranked.json()) > 0, ranked.text
        # The patrol's own unit is sent (so its feed gets its order), then released.
        t0 = time.perf_counter()
        sent = desk.post(f"/api/incidents/{incident_id}/dispatch", json={"unit_id": patrol_unit.id})
        assignment_id = sent.json()["id"]
        while assignment_id not in feed.arrived and time.perf_counter() - t0 < 10:
            time.sleep(0.001)
        if assignment_id in feed.arrived:
            order_ms.append((feed.arrived[assignment_id] - t0) * 1000)
        desk.post(f"/api/assignments/{assignment_id}/steps", json={"step": "release"})
        if pages:  # the same unit from the desk's page: click -> the phone's page
            page_ms.append(pages.dispatch_one(desk, "U-000"))
        time.sleep(max(0.0, 2.0 - (time.perf_counter() - t0)))
    child.join(seconds + 60)
    cpu = time.process_time() - cpu0
    counts = out.get(timeout=10)
    counts["cpu_share"] = cpu / (time.monotonic() - wall0)
    counts["cpu_us_per_position"] = cpu / max(1, counts["ok"]) * 1e6
    for one in (feed, *desks):
        one.stop()
    report(units, counts, suggest_ms, order_ms, [ms for ms in page_ms if ms is not None])
    if None in page_ms:
        print(f"orders that never showed on the patrol's page in 15 s: {page_ms.count(None)}")
    print(
        f"this process's CPU while the devices ran ({listeners + 1} live feeds): "
        f"{counts['cpu_share']:.0%} of a core, {counts['cpu_us_per_position']:.0f} µs"
        " per stored position (desk and feed clients included"
        + (", and the Playwright driver of the pages; Chromium is not)" if pages else ")")
    )


def report(
    units: int, counts: dict, suggest_ms: list[float], order_ms: list[float], page_ms: list[float]
) -> None:
    needed = units / PERIOD_S
    rate = counts["ok"] / counts["elapsed_s"]
    print(f"units: {units}, each every {PERIOD_S:g} s over {counts['elapsed_s']:.1f} s")
    print(
        f"positions stored: {counts['ok']} ({rate:.1f}/s sustained; required {needed:.0f}/s:"
        f" {rate / needed:.0%}); refused {counts['refused']}, errors {counts['error']},"
        f" sent more than a period late {counts['late']}"
    )
    print(
        f"suggestions ({len(suggest_ms)} calls, {units} units): p50 "
        f"{percentile(suggest_ms, 50):.1f} ms, p95 {percentile(suggest_ms, 95):.1f} ms"
    )
    if order_ms:
        print(
            f"dispatch POST -> order on the patrol's live feed ({len(order_ms)}): p50 "
            f"{percentile(order_ms, 50):.1f} ms, p95 {percentile(order_ms, 95):.1f} ms,"
            f" max {max(order_ms):.1f} ms"
        )
    if page_ms:
        print(
            f"dispatch click -> order showing on the patrol's page ({len(page_ms)}): p50 "
            f"{percentile(page_ms, 50):.1f} ms, p95 {percentile(page_ms, 95):.1f} ms,"
            f" max {max(page_ms):.1f} ms"
        )


if __name__ == "__main__":
    main()
