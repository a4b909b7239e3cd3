"""Issue 7, test 8: TLS between nodes and mosquitto, with the site's own CA.

``villagewatch provision --tls`` makes the site CA and the broker's server certificate; every
node's connection file then carries the CA and the TLS port, and the node's MqttLink accepts
only a broker that CA vouches for. A node trusting another CA, and plain MQTT sent to the
TLS port, get nowhere. The embedded broker (the demo's, loopback only) has no TLS listener
and says so when asked for one.
"""

from __future__ import annotations

import ssl
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from broker_kit import Probe, wait_until, write_site
from conftest import require_mosquitto
from paho.mqtt.enums import CallbackAPIVersion

from broker.provision import credential_store, provision_node
from broker.service import Broker, BrokerSelectionError, open_broker
from broker.tls import RENEW_BEFORE, site_tls
from contract.certificates import (
    SERVER_DAYS,
    client_ssl_context,
    issue_server_certificate,
    load_or_create_site_ca,
)
from contract.connection import NodeConnection
from contract.mqtt import LinkSettings, MqttLink
from contract.protocol import alert_topic
from contract.siteconfig import SiteConfig, load_site_config
from villagewatch.cli import main


def tls_site(tmp_path: Path, **broker) -> SiteConfig:
    return load_site_config(
        write_site(tmp_path, kind="mosquitto", tls_port="free", tls_names=["broker.lan"], **broker)
    )


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    require_mosquitto()
    return tls_site(tmp_path)


def running(site: SiteConfig) -> Broker:
    broker = open_broker(
        site.broker, site.resolve(site.broker.data_dir), credential_store(site), site_tls(site)
    )
    broker.start()
    return broker


@pytest.fixture
def broker(site: SiteConfig) -> Iterator[Broker]:
    b = running(site)
    yield b
    b.stop()


def tls_client(ca_pem: str, conn: NodeConnection) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="c", protocol=paho.MQTTv311)
    client.username_pw_set(conn.username, conn.password)
    client.tls_set_context(client_ssl_context(ca_pem))
    return client


def test_provision_tls_makes_the_site_ca_and_a_server_certificate_with_private_keys(
    site: SiteConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["provision", "--config", str(site.base_dir / "site.yaml"), "--tls"]) == 0
    tls = site_tls(site)
    assert tls is not None
    assert {"broker.lan", "127.0.0.1", "localhost"} <= set(tls.names())
    for key in (tls.key, tls.ca.with_name("ca.key")):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(tls.ca.parent.stat().st_mode) == 0o700
    assert "broker.lan" in capsys.readouterr().out


def test_a_nodes_connection_file_carries_the_ca_and_the_tls_port(site: SiteConfig) -> None:
    _, path = provision_node(site, "gw-plaza")
    again = NodeConnection.load(path)
    assert again.ca == site_tls(site).ca_pem() and again.tls_port == site.broker.tls_port
    assert again.dial_port == site.broker.tls_port
    hub, _ = provision_node(site, "hub")  # the hub dials its own listener, TLS as well
    assert hub.ca == again.ca and hub.dial_port == site.broker.hub_port


def test_a_node_with_the_sites_ca_connects_over_tls_and_reaches_the_hub(
    site: SiteConfig, broker: Broker
) -> None:
    conn, _ = provision_node(site, "gw-plaza")
    hub_conn, _ = provision_node(site, "hub")
    broker.reload()
    topic = alert_topic(conn.topic_root, conn.site, conn.node)
    received: list[bytes] = []
    hub = MqttLink(
        LinkSettings.for_node(hub_conn, subscriptions=[(topic, 1)]),
        on_message=lambda t, payload: received.append(payload),
    )
    link = MqttLink(LinkSettings.for_node(conn))
    hub.start()
    link.start()
    try:
        assert hub.wait_connected(10), hub.refused_reason
        assert link.wait_connected(10), link.refused_reason
        assert wait_until(lambda: link.publish(topic, b"over tls") is not None and received)
        assert b"over tls" in received
        assert broker.sweeper.sweep() == 0  # the retained sweeper works beside TLS listeners
    finally:
        link.stop()
        hub.stop()


def test_a_node_trusting_another_ca_refuses_the_broker(
    site: SiteConfig, broker: Broker, tmp_path: Path
) -> None:
    conn, _ = provision_node(site, "gw-plaza")
    broker.reload()
    impostor_ca = load_or_create_site_ca(tmp_path / "other", "other").cert.read_text()
    with pytest.raises(ssl.SSLCertVerificationError):
        tls_client(impostor_ca, conn).connect("127.0.0.1", conn.tls_port)
    # ... while the right CA passes the same handshake.
    assert tls_client(conn.ca, conn).connect("127.0.0.1", conn.tls_port) == 0


@pytest.mark.parametrize("node", ["gw-plaza", "hub"])
def test_plain_mqtt_to_a_tls_port_is_refused(site: SiteConfig, broker: Broker, node: str) -> None:
    conn, _ = provision_node(site, node)
    broker.reload()
    plain = Probe(conn.dial_port, conn.username, conn.password, "plain")
    try:
        assert not plain.accepted
        assert plain.disconnected.is_set()
    finally:
        plain.close()


def test_certificates_the_site_already_has_are_used_as_they_are(tmp_path: Path) -> None:
    require_mosquitto()
    own = tmp_path / "own"
    ca = load_or_create_site_ca(own, "riverside")
    files = issue_server_certificate(ca, own, ["broker.lan", "127.0.0.1"], stem="mqtt")
    given = {"tls_ca": str(files.ca), "tls_cert": str(files.cert), "tls_key": str(files.key)}
    site = tls_site(tmp_path, **given)
    conn, _ = provision_node(site, "gw-plaza")
    assert conn.ca == ca.cert.read_text()
    broker = running(site)
    try:
        assert tls_client(conn.ca, conn).connect("127.0.0.1", conn.tls_port) == 0
    finally:
        broker.stop()


def test_certificates_that_do_not_fit_stop_provisioning_with_the_reason(tmp_path: Path) -> None:
    own = tmp_path / "own"
    files = issue_server_certificate(load_or_create_site_ca(own, "a"), own, ["127.0.0.1"])
    stranger = load_or_create_site_ca(tmp_path / "stranger", "b")
    mismatched = {"tls_ca": str(stranger.cert), "tls_cert": str(files.cert)}
    site = tls_site(tmp_path, **mismatched, tls_key=str(files.key))
    with pytest.raises(ValueError, match="not signed by the CA"):
        provision_node(site, "gw-plaza")


def test_the_embedded_broker_has_no_tls_and_says_so(tmp_path: Path) -> None:
    site = load_site_config(write_site(tmp_path, kind="embedded", tls_port="free"))
    with pytest.raises(BrokerSelectionError, match="no TLS"):
        open_broker(site.broker, site.resolve(site.broker.data_dir), credential_store(site))


def test_the_generated_server_certificate_is_kept_until_a_name_is_added_or_it_nears_its_end(
    tmp_path: Path,
) -> None:
    site = tls_site(tmp_path)
    now = datetime.now(UTC)
    first = site_tls(site, now).cert.read_bytes()
    assert site_tls(site, now + timedelta(days=1)).cert.read_bytes() == first  # kept
    renew_at = now + timedelta(days=SERVER_DAYS) - RENEW_BEFORE + timedelta(days=1)
    renewed = site_tls(site, renew_at)
    assert renewed.cert.read_bytes() != first
    names = [*site.broker.tls_names, "broker2.lan"]
    wider = site.model_copy(update={"broker": site.broker.model_copy(update={"tls_names": names})})
    assert "broker2.lan" in site_tls(wider, renew_at).names()
