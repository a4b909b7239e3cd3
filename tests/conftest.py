"""Shared fixtures: real services on free loopback ports, never hard-coded ones.

``mosquitto`` starts a real Eclipse Mosquitto with a generated config (no anonymous access,
password file, per-node ACL). When the binary is missing the test *fails* in CI (CI=true) and
is skipped only on a developer laptop, so CI can never pass without having run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import pytest

from broker.credentials import CredentialStore
from broker.mosquitto import MosquittoBroker, find_mosquitto
from contract.connection import NodeConnection
from contract.protocol import NodeRole
from hub.clock import ManualClock
from hub.storage.repositories import Storage
from hub.storage.sqlite import open_sqlite_storage

REPO = Path(__file__).resolve().parents[1]
EXCERPT = REPO / "config" / "footage" / "vtest_lawn_excerpt.mp4"
SITE = "riverside"


def loopback_connection(
    node: str,
    password: str,
    port: int,
    role: NodeRole = NodeRole.CAMERA_GATEWAY,
    site: str = SITE,
) -> NodeConnection:
    """A node's connection file for a broker on 127.0.0.1 (its username is its node id)."""
    return NodeConnection(
        site=site,
        node=node,
        role=role,
        host="127.0.0.1",
        port=port,
        username=node,
        password=password,
    )


@dataclass
class RunningBroker:
    """A mosquitto on loopback plus the identities provisioned on it."""

    broker: MosquittoBroker
    store: CredentialStore
    passwords: dict[str, str] = field(default_factory=dict)

    @property
    def port(self) -> int:
        """The node listener (client id = username)."""
        return self.broker.port

    @property
    def hub_port(self) -> int:
        """The hub listener: hub identities only, free client ids."""
        return self.broker.hub_port

    def provision(
        self, node: str, role: NodeRole = NodeRole.CAMERA_GATEWAY, site: str = SITE
    ) -> NodeConnection:
        self.passwords[node] = self.store.add(node, role, site)
        self.broker.reload()
        return self.connection(node, role, site)

    def connection(
        self, node: str, role: NodeRole = NodeRole.CAMERA_GATEWAY, site: str = SITE
    ) -> NodeConnection:
        port = self.hub_port if role is NodeRole.HUB else self.port
        return loopback_connection(node, self.passwords[node], port, role, site)

    def stop(self) -> None:
        self.broker.stop()

    def start(self) -> None:
        self.broker.start()


def unavailable(message: str) -> NoReturn:
    """What a test needs is not on this machine: it fails in CI (CI=true), so CI can never
    pass without having run it, and is skipped only on a developer laptop."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def require_sample(name: str) -> Path:
    """An opencv-doc clip (vtest.avi, tree.avi), fetched through apt once. In CI a missing
    clip fails the test: CI must never pass without having run it."""
    from tests.footage import opencv_sample

    path = opencv_sample(name)
    if path is None:
        unavailable(f"{name} unavailable: needs Debian's opencv-doc (apt-get download opencv-doc)")
    return path


@pytest.fixture(scope="session")
def vtest_full() -> Path:
    return require_sample("vtest.avi")


@pytest.fixture(scope="session")
def tree_clip() -> Path:
    return require_sample("tree.avi")


def require_mosquitto() -> None:
    if find_mosquitto() is None:
        unavailable("mosquitto is not installed (apt-get install mosquitto); .ci/run installs it")


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[RunningBroker]:
    """A fresh mosquitto with a hub identity provisioned (``passwords['hub']``).

    Nodes connect to ``port`` (their client id becomes their username); the hub's
    connection (``connection("hub", NodeRole.HUB)``) points at ``hub_port``."""
    require_mosquitto()
    store = CredentialStore(tmp_path / "broker" / "identities.json")
    running = RunningBroker(MosquittoBroker(tmp_path / "broker", store), store)
    running.passwords["hub"] = store.add("hub", NodeRole.HUB, SITE)
    running.broker.start()
    yield running
    running.broker.stop()


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[Storage]:
    """The hub's real storage (SQLite file and folders) in a temporary directory."""
    storage = open_sqlite_storage(tmp_path / "hub")
    yield storage
    storage.close()


@pytest.fixture
def clock() -> ManualClock:
    """A clock that moves only when the test says: no sleeping for time-based rules."""
    return ManualClock()
