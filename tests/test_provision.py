"""Provisioning: one generated password per node, hashed in the store, shown only in the
node's private connection file."""

from __future__ import annotations

import logging
import re
import stat
from pathlib import Path

import pytest
import yaml
from broker_kit import BROKER_KINDS, Probe, write_site
from conftest import require_mosquitto

from broker.provision import ProvisionError, credential_store, provision_all, provision_node
from broker.service import open_broker
from contract.connection import NodeConnection
from contract.protocol import NodeRole, alert_topic, hub_subscriptions
from contract.siteconfig import SiteConfig, load_site_config


@pytest.fixture
def site(tmp_path: Path) -> SiteConfig:
    return load_site_config(write_site(tmp_path, kind="embedded"))


def test_unknown_node_is_a_clear_error_naming_the_known_ones(site: SiteConfig) -> None:
    with pytest.raises(ProvisionError, match=r"no node 'gw-nowhere'.*gw-plaza.*gate-door"):
        provision_node(site, "gw-nowhere")
    assert not credential_store(site).path.exists()


def test_each_node_and_each_rotation_gets_its_own_password(site: SiteConfig) -> None:
    first, _ = provision_node(site, "gw-plaza")
    door, _ = provision_node(site, "gate-door")
    hub, _ = provision_node(site, "hub")
    rotated, _ = provision_node(site, "gw-plaza")
    passwords = {first.password, door.password, hub.password, rotated.password}
    assert len(passwords) == 4 and all(len(p) >= 16 for p in passwords)
    store = credential_store(site)
    assert store.authenticate("gw-plaza", rotated.password) is not None
    assert store.authenticate("gw-plaza", first.password) is None
    roles = {n: i.role for n, i in store.load().items()}
    assert roles == {
        "gw-plaza": NodeRole.CAMERA_GATEWAY,
        "gate-door": NodeRole.SENSOR,
        "hub": NodeRole.HUB,
    }


def test_connection_file_is_private_and_says_where_the_broker_is(site: SiteConfig) -> None:
    conn, path = provision_node(site, "gate-door")
    assert path == Path(site.broker.data_dir) / "nodes" / "gate-door.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert NodeConnection.load(path) == conn
    assert (conn.site, conn.node, conn.username) == ("riverside", "gate-door", "gate-door")
    assert (conn.host, conn.port, conn.topic_root) == ("127.0.0.1", site.broker.port, "vw")


def test_host_override_and_explicit_output_path(site: SiteConfig, tmp_path: Path) -> None:
    out = tmp_path / "elsewhere" / "gw.json"
    conn, path = provision_node(site, "gw-plaza", out=out, host="192.168.1.20")
    assert path == out and conn.host == "192.168.1.20"
    assert NodeConnection.load(out).host == "192.168.1.20"


def test_broker_listening_on_all_interfaces_needs_a_host_to_provision(tmp_path: Path) -> None:
    site = load_site_config(write_site(tmp_path, host="0.0.0.0"))
    with pytest.raises(ProvisionError, match="--host"):
        provision_node(site, "gw-plaza")
    conn, _ = provision_node(site, "gw-plaza", host="10.0.0.5")
    assert conn.host == "10.0.0.5"


def test_hub_name_is_reserved_for_the_hub(tmp_path: Path) -> None:
    path = write_site(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["sensors"][0]["node"] = "hub"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ProvisionError, match="reserved"):
        provision_node(load_site_config(path), "hub")


def test_passwords_never_reach_the_site_file_the_store_or_the_logs(
    site: SiteConfig, caplog: pytest.LogCaptureFixture
) -> None:
    site_file = site.base_dir / "site.yaml"
    before = site_file.read_bytes()
    with caplog.at_level(logging.DEBUG):
        made = provision_all(site)
    passwords = [conn.password for conn, _ in made.values()]
    assert site_file.read_bytes() == before
    store_text = credential_store(site).path.read_text()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "provisioned gw-plaza" in logged  # the log does describe what happened
    for password in passwords:
        assert password not in store_text and password not in logged and password not in caplog.text


@pytest.mark.parametrize("kind", BROKER_KINDS)
def test_provision_all_sets_up_a_site_whose_nodes_reach_the_hub(tmp_path: Path, kind: str) -> None:
    if kind == "mosquitto":
        require_mosquitto()
    site = load_site_config(write_site(tmp_path, kind=kind))
    made = provision_all(site)
    assert set(made) == {"hub", "gw-plaza", *(s.node for s in site.sensors)}
    assert {"gate-door", "plaza-door"} <= set(made)
    broker = open_broker(site.broker, site.resolve(site.broker.data_dir), credential_store(site))
    broker.start()
    probes = []
    try:
        hub_conn = made["hub"][0]
        hub = Probe(hub_conn.port, hub_conn.username, hub_conn.password, "hub")
        probes.append(hub)
        for topic, qos in hub_subscriptions(site.broker.topic_root):
            hub.subscribe(topic, qos)
        for node in ("gw-plaza", "gate-door", "plaza-door"):
            conn = made[node][0]
            probe = Probe(conn.port, conn.username, conn.password, node)
            probes.append(probe)
            topic = alert_topic(conn.topic_root, conn.site, conn.node)
            assert probe.publish(topic, f"alert from {node}".encode())
            assert hub.wait_for(topic, f"alert from {node}".encode())
    finally:
        for p in probes:
            p.close()
        broker.stop()


def test_the_hubs_client_id_is_random_and_survives_a_password_rotation(
    site: SiteConfig, tmp_path: Path
) -> None:
    first, _ = provision_node(site, "hub")
    rotated, _ = provision_node(site, "hub")
    assert rotated.password != first.password
    assert rotated.client_id == first.client_id  # same persistent session after a rotation
    assert re.fullmatch(r"vw-hub-riverside-[0-9a-f]{16}", first.client_id or "")
    (tmp_path / "other").mkdir()
    elsewhere = load_site_config(write_site(tmp_path / "other", kind="embedded"))
    assert provision_node(elsewhere, "hub")[0].client_id != first.client_id
    node, _ = provision_node(site, "gw-plaza")
    assert node.client_id is None  # a node's id is its username, bound by the broker
