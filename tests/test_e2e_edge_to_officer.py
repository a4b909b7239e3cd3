"""The spine, end to end on real parts: recorded video → edge agent (onnxruntime) → real
mosquitto → hub (SQLite) → the officer's live feed (SSE).

Each scenario runs the committed excerpt once, as fast as the machine allows, through the
example site's lawn zone.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_kit import SseCollector, fast_site_config
from hub_helpers import wait_for

from contract.protocol import Alert, NodeRole
from edge.agent import EdgeAgent
from hub.domain.users import Role
from hub.service import HubService

pytestmark = pytest.mark.mosquitto
GATEWAY = "gw-plaza"


class Site:
    """A hub and an edge gateway on the ``mosquitto`` fixture, plus an officer's live feed."""

    def __init__(self, mosquitto, tmp_path: Path) -> None:
        self.mosquitto = mosquitto
        self.tmp = tmp_path
        self.config = fast_site_config(tmp_path)
        self.gateway_conn = mosquitto.provision(GATEWAY)
        self.emitted: list[Alert] = []
        self.hub: HubService | None = None
        self.feed: SseCollector | None = None
        self.agent: EdgeAgent | None = None

    def start_hub(self) -> None:
        self.hub = HubService(
            self.config,
            self.mosquitto.connection("hub", NodeRole.HUB),
            self.tmp / "hub",
            "127.0.0.1",
            0,
        )
        self.hub.start()
        assert self.hub.wait_ready(15), "hub never subscribed"
        password = self.hub.accounts.create_user("officer-1", Role.OFFICER)
        self.feed = SseCollector(self.hub.url, "officer-1", password)

    def start_edge(self) -> EdgeAgent:
        self.agent = EdgeAgent(
            self.config, GATEWAY, self.gateway_conn, on_alert=self.emitted.append
        )
        self.agent.start()
        return self.agent

    def emitted_ids(self) -> list[str]:
        return [a.id for a in self.emitted]

    def all_delivered(self) -> bool:
        ids = set(self.emitted_ids())
        return (
            self.agent.outbox.pending_count() == 0
            and ids <= set(self.hub.storage.alerts.ids())
            and ids <= set(self.feed.alert_ids())
        )

    def assert_each_alert_stored_once_with_snapshot_and_streamed(self) -> None:
        ids = self.emitted_ids()
        assert ids, "the excerpt should raise lawn intrusions"
        assert len(set(ids)) == len(ids)
        alerts = self.hub.storage.alerts
        stored = alerts.ids()
        assert sorted(stored) == sorted(ids), "stored exactly the emitted alerts, once each"
        for alert in self.emitted:
            row = alerts.get(alert.id)
            assert (row.zone, row.area, row.kind) == ("lawn", "plaza", "intrusion")
            snapshot = wait_for(
                lambda a=alert: alerts.snapshot_file(a.id), 10, f"snapshot of {alert.id}"
            )
            assert snapshot.read_bytes()[:2] == b"\xff\xd8"
        streamed = self.feed.alert_ids()
        assert sorted(streamed) == sorted(ids), "each alert on the live feed exactly once"

    def stop(self) -> None:
        # The hub first: it ends the officer's stream itself, as it does on a real restart.
        for part in (self.agent, self.hub):
            if part is not None:
                part.stop()
        if self.feed is not None:
            self.feed.close()


@pytest.fixture
def site(mosquitto, tmp_path):
    s = Site(mosquitto, tmp_path)
    yield s
    s.stop()


def test_every_alert_from_recorded_video_is_stored_once_with_snapshot_and_streamed(site):
    site.start_hub()
    agent = site.start_edge()
    assert agent.wait_played(120), "the excerpt was not processed"
    wait_for(site.all_delivered, 30, "every alert stored and streamed")
    site.assert_each_alert_stored_once_with_snapshot_and_streamed()
    # The officer also saw the gateway come online on the same feed.
    assert any(
        e.data.get("node") == GATEWAY and e.data.get("state") == "online"
        for e in site.feed.of_kind("node")
    )


def test_outbox_keeps_alerts_through_a_broker_outage_and_delivers_them_once(site):
    site.start_hub()
    site.mosquitto.stop()  # the broker goes away; the edge keeps detecting
    agent = site.start_edge()
    assert agent.wait_played(120)
    assert site.emitted, "alerts were raised during the outage"
    assert agent.outbox.pending_count() >= 2 * len(site.emitted)  # each alert + its snapshot
    assert site.hub.storage.alerts.ids() == []
    site.mosquitto.start()  # same port, same persistence: the hub's session is still there
    wait_for(site.all_delivered, 60, "delivery after the broker came back")
    site.assert_each_alert_stored_once_with_snapshot_and_streamed()


def test_edge_started_before_the_broker_exists_waits_then_delivers(site):
    site.start_hub()  # the hub has been deployed: the broker knows its persistent session
    site.mosquitto.stop()
    agent = site.start_edge()  # boots while no broker is listening on its port at all
    assert agent.wait_played(120)
    assert not agent.publisher.connected
    pending = agent.outbox.pending_count()
    assert pending > 0
    site.mosquitto.start()
    wait_for(site.all_delivered, 60, "delivery once the broker appeared")
    site.assert_each_alert_stored_once_with_snapshot_and_streamed()


def test_edge_restart_with_a_full_outbox_loses_nothing(site, tmp_path):
    """A power cut at the gateway: the next boot finds the outbox on disk and sends it."""
    site.start_hub()
    site.mosquitto.stop()
    agent = site.start_edge()
    assert agent.wait_played(120)
    agent.stop()  # the process ends with everything still queued
    emitted = list(site.emitted)
    site.mosquitto.start()
    site.config = site.config.model_copy(
        update={"gateways": [g.model_copy(update={"cameras": []}) for g in site.config.gateways]}
    )  # the rebooted gateway has no camera running yet: only the old outbox speaks
    site.start_edge()
    site.emitted = emitted
    wait_for(site.all_delivered, 60, "delivery after the gateway rebooted")
    site.assert_each_alert_stored_once_with_snapshot_and_streamed()
