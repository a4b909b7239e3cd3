"""Request bodies are capped per route before anything parses them or checks who sent them
(issue 7, test 9). A 100 MB body to every route of the hub — the admin routes without a
session included — is answered 413 after the first kilobytes, whether it declares its length
or comes chunked without one, and the ``villagewatch hub`` process's memory stays flat
(its peak resident size from /proc, not a guess). Before the limit, one such POST took the
hub from 167 MB to 2.8 GB."""

from __future__ import annotations

import json
import select
import socket
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.routing import APIRoute
from hub_helpers import example_config, offline_connection
from hub_process import HubProcess, start_hub_process
from route_samples import app_routes
from starlette.routing import Mount

from hub.api.limits import DEFAULT_LIMIT, LOGIN_LIMIT
from hub.service import HubService

MIB = 2**20
HUNDRED_MB = 100 * MIB
#: Path parameters: any well-formed value will do, the body is refused before routing.
SAMPLE_IDS = {"incident_id": "0" * 32, "alert_id": "0" * 32, "attachment_id": "1"}
SAMPLE_IDS["username"] = "admin"


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> HubProcess:
    running = start_hub_process(Path(tmp_path_factory.mktemp("hub-process")))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def every_route(tmp_path_factory) -> list[tuple[str, str]]:
    """(method, path) of every route the hub serves, read from the app itself."""
    service = HubService(example_config(), offline_connection(), tmp_path_factory.mktemp("app"))
    routes = []
    for route, path, methods in app_routes(service.app):
        if isinstance(route, Mount):
            routes.append(("GET", path + "/app.js"))
            continue
        assert isinstance(route, APIRoute)
        for name, value in SAMPLE_IDS.items():
            path = path.replace("{" + name + "}", value)
        routes += [(method, path) for method in sorted(methods)]
    service.storage.close()
    return routes


def send_huge_body(
    url: str, method: str, path: str, chunked: bool, token: str | None = None
) -> tuple[int, int]:
    """Send a 100 MB body the way an attacker would: as fast as the socket takes it, and
    stop only when the hub answers. Returns (HTTP status, bytes of body sent by then)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    head = f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    head += "Content-Type: application/json\r\n"
    head += f"Authorization: Bearer {token}\r\n" if token else ""
    head += "Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {HUNDRED_MB}\r\n"
    sock.sendall((head + "\r\n").encode())
    piece = b"x" * 65536
    framed = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
    sent = 0
    try:
        while sent < HUNDRED_MB and not select.select([sock], [], [], 0)[0]:
            sock.sendall(framed)
            sent += len(piece)
    except OSError:
        pass  # the hub hung up mid-send: its answer is still there to read
    try:
        answer = sock.recv(4096)
    except OSError:
        answer = b""
    finally:
        sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, sent


def login(hub: HubProcess) -> str:
    r = httpx.post(
        hub.url + "api/login", json={"username": "admin", "password": hub.admin_password}
    )
    assert r.status_code == 200, r.text
    return r.json()["token"]


def test_a_100_mb_body_to_every_route_is_refused_early_and_the_hubs_memory_stays_flat(
    hub, every_route
):
    assert len(every_route) > 25
    before = max(hub.status_kib("VmRSS"), hub.status_kib("VmHWM"))
    admin = login(hub)
    for method, path in every_route:
        for chunked in (False, True):
            for token in (None, admin):
                status, sent = send_huge_body(hub.url, method, path, chunked, token)
                how = f"{method} {path} chunked={chunked} signed-in={bool(token)}"
                assert status == 413, how
                # Refused after the route's limit (5 MiB for photos) plus what the sockets
                # buffer on the way, never the whole body.
                assert sent < 24 * MIB, how
    peak = hub.status_kib("VmHWM")
    # 4 hostile 100 MB uploads per route (~15 GB offered) moved the peak by < 64 MiB.
    assert peak - before < 64 * 1024, (before, peak)
    assert httpx.get(hub.url + "api/health").json() == {"status": "ok"}


def test_a_body_within_the_limit_is_served_and_one_byte_more_is_413(hub):
    token = login(hub)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    body = json.dumps({"username": "padded", "role": "viewer"}).encode()
    at_limit = body + b" " * (DEFAULT_LIMIT - len(body))
    created = httpx.post(hub.url + "api/users", content=at_limit, headers=headers)
    assert created.status_code == 201, created.text
    too_big = httpx.post(hub.url + "api/users", content=at_limit + b" ", headers=headers)
    assert too_big.status_code == 413
    assert too_big.json() == {"detail": f"request body too large: at most {DEFAULT_LIMIT} bytes"}


def test_a_chunked_body_is_counted_as_it_arrives(hub):
    def chunks(total: int):
        for _ in range(total // 1024):
            yield b" " * 1024

    refused = httpx.post(hub.url + "api/login", content=chunks(LOGIN_LIMIT + 1024))
    assert refused.status_code == 413
    # A small chunked login is read as usual (and is just a wrong password).
    small = b'{"username": "admin", "password": "wrong"}'
    answered = httpx.post(hub.url + "api/login", content=iter([small[:10], small[10:]]))
    assert answered.status_code == 401
