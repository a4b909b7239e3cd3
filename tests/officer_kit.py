"""What the officer-page tests share: a real Chromium, a real hub (with a short heartbeat so a
stalled stream is noticed quickly), signing in, and a TCP proxy that can stall a connection
the way a phone between cells does (the socket stays open, nothing flows)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from hub_helpers import example_config
from playwright.sync_api import Browser, Page, expect, sync_playwright

from contract.protocol import NodeRole
from hub.domain.users import Role
from hub.service import HubService

CHROMIUM = "/usr/bin/chromium"
# How long an expect() waits for the page to reach a state (not a timing: it passes as soon
# as the state is there). Playwright's 5 s default was too short once, for a live update
# in a two-browser test, with CI's two workers on two cores busy with other work.
expect.set_options(timeout=15_000)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
SMALL_PHONE = {**PHONE, "viewport": {"width": 360, "height": 740}}
DESK = {"viewport": {"width": 1366, "height": 900}}
SITE = "riverside"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        message = "chromium is not installed at /usr/bin/chromium (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must never pass without having driven a real browser
        pytest.skip(message)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def start_officer_hub(
    mosquitto, data_dir: Path, heartbeat_s: float = 1.0, port: int = 0
) -> HubService:
    """The example site's hub on ``mosquitto``, pinging its live streams every
    ``heartbeat_s`` seconds; HTTP on ``port`` (0: a free one)."""
    service = HubService(
        example_config(),
        mosquitto.connection("hub", NodeRole.HUB),
        data_dir,
        "127.0.0.1",
        port,
        heartbeat_s=heartbeat_s,
    )
    service.start()
    assert service.wait_ready(10), "hub never subscribed"
    return service


@pytest.fixture
def hub(mosquitto, tmp_path: Path) -> Iterator[HubService]:
    """The example site's hub for one test (``start_officer_hub``), stopped after it."""
    service = start_officer_hub(mosquitto, tmp_path / "hub")
    yield service
    service.stop()


def add_user(hub: HubService, username: str, role: Role = Role.OFFICER) -> str:
    """A hub user; returns the generated password."""
    return hub.accounts.create_user(username, role)


def watch_problems(page: Page) -> list[str]:
    """Errors the page raises or logs; a test ends asserting there were none."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    return problems


@contextlib.contextmanager
def open_page(browser: Browser, device: dict) -> Iterator[tuple[Page, list[str]]]:
    """A page in a fresh browser context set up as ``device`` (PHONE, DESK...), and the
    problems it reports (``watch_problems``); the context is closed afterwards."""
    context = browser.new_context(**device)
    try:
        page = context.new_page()
        yield page, watch_problems(page)
    finally:
        context.close()


def sign_in(
    page: Page, url: str, username: str, password: str, problems: list[str] | None = None
) -> None:
    """Through the sign-in form, until the live feed is up. The page's first look at
    ``/api/me`` is a 401 (nobody signed in yet), which Chromium logs: it is dropped from
    ``problems``."""
    page.goto(url)
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click("#login-submit")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    if problems is not None:
        problems[:] = [p for p in problems if "401 (Unauthorized)" not in p]


class StallingProxy:
    """A TCP proxy on loopback in front of the hub. ``stall()`` stops every byte in both
    directions without closing anything, new connections included; ``flow()`` lets the held
    bytes through again. This is what a dead mobile link looks like to a browser: no error,
    no close, just silence."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._flowing = threading.Event()
        self._flowing.set()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="stalling-proxy").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stall(self) -> None:
        self._flowing.clear()

    def flow(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed = True
        self._flowing.set()
        for sock in [self._server, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                return
            self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                self._flowing.wait()  # stalled: hold the bytes, close nothing
                dst.sendall(data)
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
