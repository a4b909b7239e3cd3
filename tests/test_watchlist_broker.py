"""Watchlist updates on a real mosquitto with the real broker ACL: each gateway identity
receives its own retained update and never another's, a face goes only to the gateway whose
camera is in the authorisation's scope, and once the authorisation expires its faces are
gone from the retained copy a (re)connecting gateway gets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from broker_kit import Probe, wait_until
from conftest import SITE
from watchlist_kit import GATE, authorisation, carphone_photo, watchlist_config

from contract.protocol import NodeRole
from contract.watchlist import WatchlistUpdate, decode_update, watchlist_topic
from hub.clock import ManualClock
from hub.service import HubService

PLAZA = "gw-plaza"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def hub(mosquitto, tmp_path: Path, clock: ManualClock) -> Iterator[HubService]:
    for node in (PLAZA, GATE):
        mosquitto.passwords[node] = mosquitto.store.add(node, NodeRole.CAMERA_GATEWAY, SITE)
    mosquitto.broker.reload()
    service = HubService(
        watchlist_config(), mosquitto.connection("hub", NodeRole.HUB), tmp_path / "hub",
        "127.0.0.1", 0, clock=clock,
    )  # fmt: skip
    service.start()
    assert service.wait_ready(10), "hub never subscribed"
    yield service
    service.stop()


def gateway(mosquitto, node: str, *topics: str) -> Probe:
    """``node``'s own broker identity, subscribed to ``topics``."""
    probe = Probe(mosquitto.port, node, mosquitto.passwords[node], node)
    assert probe.accepted, probe.connack
    for topic in topics:
        probe.subscribe(topic)
    return probe


def latest(probe: Probe, topic: str, node: str) -> WatchlistUpdate | None:
    payloads = probe.payloads(topic)
    return decode_update(payloads[-1], SITE, node) if payloads else None


def test_each_gateway_gets_only_its_own_list_and_faces_only_in_scope(mosquitto, hub, clock):
    root = hub.connection.topic_root
    plaza_topic, gate_topic = (watchlist_topic(root, SITE, n) for n in (PLAZA, GATE))
    wl = hub.watchlist.service
    auth = wl.authorise(authorisation(clock()), "supervisor")  # gw-plaza/plaza only
    face = wl.enrol_face(carphone_photo(), auth.id, None, "supervisor")
    wl.add_plate(
        dict(plate="粤C·12345", reason="stolen van", owner="officer", case_ref="RV-7",
             expires_at=clock() + timedelta(days=1)),
        "officer",
    )  # fmt: skip
    plaza = gateway(mosquitto, PLAZA, plaza_topic)
    # The gate gateway asks for the plaza's list too: the ACL gives it nothing.
    gate = gateway(mosquitto, GATE, gate_topic, plaza_topic)
    try:
        assert wait_until(lambda: (u := latest(plaza, plaza_topic, PLAZA)) and u.plates)
        update = latest(plaza, plaza_topic, PLAZA)
        assert [f.id for f in update.faces] == [face.id]
        assert [a.id for a in update.authorisations] == [auth.id]
        assert [p.plate for p in update.plates] == ["粤C·12345"]
        assert all(retained for _, _, retained in plaza.messages)
        assert wait_until(lambda: (u := latest(gate, gate_topic, GATE)) and u.plates)
        mine = latest(gate, gate_topic, GATE)
        assert mine.faces == [] and mine.authorisations == []
        assert gate.payloads(plaza_topic) == []  # never another gateway's list
        assert all(face.embedding.encode() not in p for _, p, _ in gate.messages)
    finally:
        plaza.close()
        gate.close()
    # The authorisation expires: the worker deletes its faces and republishes; a gateway
    # (re)connecting now gets a retained copy without them.
    clock.advance(days=4)
    assert hub.watchlist.step()["authorisations"] == 1
    again = gateway(mosquitto, PLAZA, plaza_topic)
    try:
        assert wait_until(lambda: latest(again, plaza_topic, PLAZA) is not None)
        assert wait_until(lambda: latest(again, plaza_topic, PLAZA).issued_at == clock())
        after = latest(again, plaza_topic, PLAZA)
        assert after.faces == [] and after.authorisations == []
        assert all(face.embedding.encode() not in p for p in again.payloads(plaza_topic))
    finally:
        again.close()
