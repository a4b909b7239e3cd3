"""Choosing the broker (`broker.kind`) and running it as `villagewatch broker` does."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import pytest
from broker_kit import BROKER_KINDS, Probe, wait_until, write_site
from conftest import require_mosquitto

import broker.service as service
from broker.embedded import EmbeddedBroker
from broker.mosquitto import MosquittoBroker, wait_for_port
from broker.provision import credential_store, provision_node
from broker.service import BrokerSelectionError, open_broker, run_broker
from contract.mqtt import LinkSettings, MqttLink
from contract.protocol import alert_topic
from contract.siteconfig import load_site_config


def opened(tmp_path: Path, kind: str):
    config = load_site_config(write_site(tmp_path, kind=kind))
    data_dir = config.resolve(config.broker.data_dir)
    return open_broker(config.broker, data_dir, credential_store(config))


def test_auto_runs_mosquitto_when_installed_and_logs_its_version(tmp_path, caplog) -> None:
    require_mosquitto()
    with caplog.at_level(logging.INFO, logger="broker.service"):
        broker = opened(tmp_path, "auto")
    assert isinstance(broker, MosquittoBroker)
    assert any("Eclipse Mosquitto 2." in r.getMessage() for r in caplog.records)


def test_auto_falls_back_to_the_embedded_broker_with_a_warning(
    tmp_path, caplog, monkeypatch
) -> None:
    monkeypatch.setattr(service, "find_mosquitto", lambda: None)  # a machine without mosquitto
    with caplog.at_level(logging.INFO, logger="broker.service"):
        broker = opened(tmp_path, "auto")
    assert isinstance(broker, EmbeddedBroker)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "embedded amqtt broker (zero-install, for the demo: loopback only, no TLS; "
        "use mosquitto in production)" in w
        for w in warnings
    )


def test_embedded_kind_runs_the_embedded_broker_even_with_mosquitto_installed(tmp_path) -> None:
    assert isinstance(opened(tmp_path, "embedded"), EmbeddedBroker)


def test_mosquitto_kind_without_mosquitto_fails_with_the_install_hint(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setattr(service, "find_mosquitto", lambda: None)
    with pytest.raises(BrokerSelectionError, match="apt-get install mosquitto"):
        opened(tmp_path, "mosquitto")


def test_external_kind_has_nothing_to_run_here(tmp_path) -> None:
    with pytest.raises(BrokerSelectionError, match="external"):
        opened(tmp_path, "external")


@pytest.mark.parametrize("kind", BROKER_KINDS)
def test_run_broker_serves_until_stopped_and_admits_nodes_provisioned_meanwhile(
    tmp_path: Path, kind: str
) -> None:
    if kind == "mosquitto":
        require_mosquitto()
    config = load_site_config(write_site(tmp_path, kind=kind))
    stop, ready = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            run_broker(config, stop, on_ready=lambda b: ready.set(), poll_s=0.2)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert ready.wait(15), errors
        # `villagewatch provision` from another terminal only touches identities.json.
        conn, _ = provision_node(config, "gw-plaza")
        probes: list[Probe] = []

        def node_admitted() -> bool:
            probes.append(Probe(conn.port, conn.username, conn.password, f"try-{len(probes)}"))
            return probes[-1].accepted

        try:
            assert wait_until(node_admitted, timeout=10)
        finally:
            for p in probes:
                p.close()
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive() and errors == []
    assert not wait_for_port("127.0.0.1", config.broker.port, timeout=0.3)


def test_embedded_broker_on_a_busy_port_fails_with_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        broker = EmbeddedBroker(
            tmp_path, credential_store(load_site_config(write_site(tmp_path))), port=port
        )
        with pytest.raises(RuntimeError, match=f"did not start on 127.0.0.1:{port}.*in use"):
            broker.start()
    assert not broker.is_running()


def test_the_embedded_broker_refuses_to_face_a_network(tmp_path: Path) -> None:
    config = load_site_config(write_site(tmp_path, kind="embedded", host="0.0.0.0"))
    with pytest.raises(BrokerSelectionError, match="loopback only"):
        open_broker(config.broker, tmp_path / "broker", credential_store(config))
    with pytest.raises(ValueError, match="for the demo and binds loopback only"):
        EmbeddedBroker(tmp_path, credential_store(config), host="192.0.2.7")


def test_run_broker_restarts_mosquitto_after_kill_9_and_nodes_come_back(tmp_path: Path) -> None:
    require_mosquitto()
    config = load_site_config(write_site(tmp_path, kind="mosquitto"))
    node, _ = provision_node(config, "gw-plaza")
    hub_conn, _ = provision_node(config, "hub")
    stop, ready = threading.Event(), threading.Event()
    started: list[MosquittoBroker] = []

    def on_ready(broker) -> None:
        started.append(broker)
        ready.set()

    thread = threading.Thread(
        target=run_broker, args=(config, stop, on_ready, 0.1), daemon=True, name="supervisor"
    )
    thread.start()
    link = MqttLink(LinkSettings.for_node(node, min_backoff_s=0.1, max_backoff_s=0.5))
    try:
        assert ready.wait(15)
        broker = started[0]
        link.start()
        assert link.wait_connected(10)
        first = broker.process.pid
        os.kill(first, signal.SIGKILL)
        assert wait_until(
            lambda: broker.is_running() and broker.process.pid != first, timeout=20
        ), "mosquitto was not started again"
        assert wait_until(link.connected.is_set, timeout=20), "the node did not reconnect"
        hub = Probe(hub_conn.port, hub_conn.username, hub_conn.password, hub_conn.client_id)
        topic = alert_topic(node.topic_root, node.site, node.node)
        hub.subscribe(topic)
        assert wait_until(lambda: link.publish(topic, b"after the restart") is not None)
        assert hub.wait_for(topic, b"after the restart")
        hub.close()
    finally:
        link.stop()
        stop.set()
        thread.join(15)
    assert not thread.is_alive()


def test_restart_pauses_double_while_the_broker_keeps_dying_and_reset_once_it_stays_up() -> None:
    now = [0.0]
    restarts = service._Restarts(lambda: now[0])
    pauses = []
    for _ in range(8):  # dies at once after every start
        pauses.append(restarts.next_pause())
        restarts.started()
    assert pauses == [0.5, 1, 2, 4, 8, 16, 30, 30]
    now[0] += service.STABLE_S  # then it ran for a minute
    assert restarts.next_pause() == 0.5
