"""Give a node (or the hub) its broker identity: ``villagewatch provision``.

Provisioning generates a fresh random password, stores only its hash in the site's
credential store (``<broker data_dir>/identities.json``), and writes the clear password once,
into the node's connection file (mode 0600). Provisioning a node again *rotates* its
password: the old one stops working as soon as the broker reloads, which a running
``villagewatch broker`` does by itself within a few seconds.

There are no default passwords, and passwords never go to the site file or the logs.

The hub's file points at the broker's hub listener (``broker.hub_host:hub_port``, where
only hub identities may log in) and carries a random client id, kept across rotations so
its persistent session survives. With ``broker.tls_port`` set, every file carries the site
CA and the TLS port to dial (the hub's listener is then TLS as well); the CA and server
certificate are made on first use, see :mod:`broker.tls`.
"""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from broker.credentials import CredentialStore
from broker.tls import site_tls
from contract.certificates import CertificateError, ServerTls
from contract.connection import NodeConnection
from contract.hosts import ALL_INTERFACES
from contract.protocol import NodeRole
from contract.siteconfig import SiteConfig

log = logging.getLogger(__name__)

#: The hub's broker identity (username and node id).
HUB_NODE = "hub"


class ProvisionError(ValueError):
    """Provisioning cannot proceed; ``str()`` says why and what to do."""


def credential_store(config: SiteConfig) -> CredentialStore:
    """The site's credential store: ``<broker data_dir>/identities.json``."""
    data_dir = config.resolve(config.broker.data_dir)
    hub_extra = config.integrations.home_assistant.hub_topics()
    return CredentialStore(data_dir / "identities.json", config.broker.topic_root, hub_extra)


def node_role(config: SiteConfig, node: str) -> NodeRole:
    """The role of ``node`` in this site, or ProvisionError naming the nodes that exist."""
    gateways = [g.node for g in config.gateways]
    # Devices a bridge speaks for (Zigbee2MQTT) are sensor nodes with identities of their own.
    sensors = [s.node for s in config.sensors]
    sensors += [d.node for d in config.integrations.bridged_nodes()]
    if node == HUB_NODE:
        if node in gateways or node in sensors:
            raise ProvisionError(
                f"node id {HUB_NODE!r} is reserved for the hub; rename that node in the site file"
            )
        return NodeRole.HUB
    if node in gateways:
        return NodeRole.CAMERA_GATEWAY
    ha = config.integrations.home_assistant
    if ha.enabled and node == ha.username and node not in sensors:
        return NodeRole.INTEGRATION  # Home Assistant's login: the discovery prefix only
    if node in sensors:
        return NodeRole.SENSOR
    known = [HUB_NODE, *gateways, *sensors]
    raise ProvisionError(
        f"no node {node!r} in site {config.site.id!r}; known: {', '.join(known)} "
        "(add it under gateways: or sensors: first)"
    )


def connection_path(config: SiteConfig, node: str) -> Path:
    """Where a node's connection file goes by default: ``<broker data_dir>/nodes/<node>.json``."""
    return config.resolve(config.broker.data_dir) / "nodes" / f"{node}.json"


def provision_node(
    config: SiteConfig,
    node: str,
    out: Path | None = None,
    host: str | None = None,
    port: int | None = None,
) -> tuple[NodeConnection, Path]:
    """Create (or rotate) ``node``'s credentials and write its connection file.

    ``host`` overrides the address in the file (``broker.host``, or ``broker.hub_host`` for
    the hub) — give the LAN address when the broker listens on all interfaces or nodes reach
    it by another name; ``port`` overrides the port (needed when it is 0, "pick a free
    port"). Returns the connection and the file's path.
    """
    role = node_role(config, node)
    settings = config.broker
    is_hub = role is NodeRole.HUB
    tls = _tls_fields(config, settings.hub_port if is_hub else settings.tls_port)
    listen = "hub_host" if is_hub else "tls_host" if tls and settings.tls_host else "host"
    target_host = host or getattr(settings, listen)
    if target_host in ALL_INTERFACES:
        raise ProvisionError(
            f"broker.{listen} is {target_host!r} (all interfaces), "
            "which cannot be dialled; pass the broker's LAN address with --host"
        )
    target_port = port or (settings.hub_port if is_hub else settings.port)
    if not target_port:
        which = "hub_port" if is_hub else "port"
        raise ProvisionError(
            f"broker.{which} is 0 (a free port picked at start); set a fixed port to provision"
        )
    path = Path(out) if out else connection_path(config, node)

    store = credential_store(config)
    password = store.add(node, role, config.site.id)
    conn = NodeConnection(
        site=config.site.id,
        node=node,
        role=role,
        host=target_host,
        port=target_port,
        username=node,
        password=password,
        topic_root=settings.topic_root,
        client_id=_hub_client_id(config.site.id, path) if is_hub else None,
        **tls,
    )
    conn.save(path)  # 0600, in folders made 0700
    log.info(
        "provisioned %s (%s) for %s:%s%s; connection file %s",
        node,
        role,
        target_host,
        target_port,
        f" (TLS port {conn.tls_port})" if tls else "",
        path,
    )
    return conn, path


def provision_tls(config: SiteConfig) -> ServerTls:
    """Make the site CA and the broker's server certificate now (or check the site's own
    files): ``villagewatch provision --tls``. Keys are written 0600."""
    if not config.broker.tls_port:
        raise ProvisionError(
            "broker.tls_port is 0 (no TLS listener): set it in the site file first, e.g. 8883"
        )
    try:
        tls = site_tls(config)
    except CertificateError as exc:
        raise ProvisionError(f"broker TLS: {exc}") from None
    assert tls is not None  # tls_port is set
    log.info("broker TLS: %s for %s, CA %s", tls.cert, ", ".join(tls.names()), tls.ca)
    return tls


def _tls_fields(config: SiteConfig, tls_port: int) -> dict[str, object]:
    """The CA (PEM text) and TLS port for a connection file, when the site has TLS (the
    hub's listener is then TLS too: ``tls_port`` is the hub port for the hub)."""
    try:
        tls = site_tls(config)
    except CertificateError as exc:
        raise ProvisionError(f"broker TLS: {exc}") from None
    if tls is None:
        return {}
    return {"ca": tls.ca_pem(), "tls_port": tls_port}


def _hub_client_id(site: str, path: Path) -> str:
    """The hub's MQTT client id: random (nodes cannot guess it), and the same as in its
    previous connection file so a password rotation keeps the hub's persistent session."""
    try:
        previous = NodeConnection.load(path).client_id
    except ValueError:
        previous = None
    return previous or f"vw-hub-{site}-{secrets.token_hex(8)}"


def provision_all(
    config: SiteConfig, host: str | None = None, port: int | None = None
) -> dict[str, tuple[NodeConnection, Path]]:
    """Provision the hub, every gateway, every sensor and every bridged device (the demo's
    one-step set-up).

    Every identity gets a new password, so run it before starting the nodes.
    """
    nodes = [HUB_NODE, *(g.node for g in config.gateways), *(s.node for s in config.sensors)]
    nodes += [d.node for d in config.integrations.bridged_nodes()]
    if config.integrations.home_assistant.enabled:
        nodes.append(config.integrations.home_assistant.username)
    return {n: provision_node(config, n, host=host, port=port) for n in nodes}
