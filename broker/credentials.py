"""Broker identities: generated passwords, their hashes, and the per-node topic ACL.

One :class:`CredentialStore` (a JSON file of PBKDF2 hashes, mode 0600) is the source of
truth for both brokers: :mod:`broker.mosquitto` renders it as mosquitto's ``password_file``
and ``acl_file``; :mod:`broker.embedded` checks it directly. Passwords are generated at
provisioning and never stored in clear on the hub; only the node's connection file holds one.
"""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from contract.files import write_durably
from contract.passwords import MOSQUITTO_ITERATIONS, hash_password, verify_password
from contract.protocol import (
    DEFAULT_TOPIC_ROOT,
    HUB_TO_NODE_CHANNELS,
    Channel,
    NodeRole,
    node_subtree,
)


def generate_password() -> str:
    """A fresh 24-character URL-safe password (144 bits)."""
    return secrets.token_urlsafe(18)


#: What a node writes under its own subtree, one level each; ``snapshot`` takes one more
#: level (the alert id). Nothing else: no stray subtopics to fill with retained data.
NODE_CHANNELS = (Channel.STATUS, Channel.ALERT, Channel.STATS, Channel.HEARTBEAT)


def node_write_filters(root: str, site: str, node: str) -> list[str]:
    """The topic filters a node may publish to (and read back): its own data channels."""
    own = f"{root}/{site}/{node}"
    return [*(f"{own}/{c}" for c in NODE_CHANNELS), f"{own}/{Channel.SNAPSHOT}/+"]


def live_write_filter(root: str, site: str, node: str) -> str:
    """A node's live frames (one level per camera): it writes them, only the hub reads them."""
    return f"{root}/{site}/{node}/{Channel.LIVE}/+"


def evidence_write_filter(root: str, site: str, node: str) -> str:
    """A gateway's video-verification evidence (one level per request): it writes, only the
    hub reads (snapshots and clips of people are for the hub's officers, not other nodes)."""
    return f"{root}/{site}/{node}/{Channel.EVIDENCE}/+"


def hub_to_node_filters(root: str, site: str, node: str = "+") -> list[str]:
    """Receipts, live-view leases, verify requests and watchlists
    (:data:`~contract.protocol.HUB_TO_NODE_CHANNELS`): the hub writes every node's (``+``),
    each node reads only its own."""
    return [f"{root}/{site}/{node}/{c}" for c in HUB_TO_NODE_CHANNELS]


def _matches(topic: str, topic_filter: str) -> bool:
    """MQTT topic matching, enough for our ACL filters (``+`` one level, ``#`` the rest)."""
    levels, parts = topic.split("/"), topic_filter.split("/")
    for i, part in enumerate(parts):
        if part == "#":
            return True
        if i >= len(levels) or (part != "+" and part != levels[i]):
            return False
    return len(levels) == len(parts)


@dataclass(frozen=True)
class Identity:
    username: str
    role: NodeRole
    site: str
    password_hash: str
    #: Topic filters outside the root: Home Assistant's discovery prefix when the site turns
    #: discovery on. The hub reads and writes them (it publishes its sensors there); an
    #: ``integration`` identity (Home Assistant's login) reads them and writes only
    #: ``<prefix>/status``. Empty for nodes, always.
    hub_extra: tuple[str, ...] = ()

    def may_publish(self, topic: str, root: str) -> bool:
        """Nodes publish only their own status, alerts, stats, snapshots, live frames and
        verification evidence; the hub publishes under its own subtree and the receipts,
        live-view leases and verify requests of every node of its site."""
        if self.role is NodeRole.INTEGRATION:
            return any(topic == f.removesuffix("#") + "status" for f in self.hub_extra)
        if self.role is NodeRole.HUB:
            own = node_subtree(root, self.site, self.username)
            hub_writes = (
                own,
                *hub_to_node_filters(root, self.site),
                *self.hub_extra,
            )
            return any(_matches(topic, f) for f in hub_writes)
        writes = [
            *node_write_filters(root, self.site, self.username),
            live_write_filter(root, self.site, self.username),
            evidence_write_filter(root, self.site, self.username),
        ]
        return any(_matches(topic, f) for f in writes)

    def may_subscribe(self, topic_filter: str, root: str) -> bool:
        """SUBSCRIBE filters and, at delivery, concrete topics. The hub reads everything under
        the root. A node may subscribe to filters within its own subtree, and is *delivered*
        only its own data topics and its own receipt, live-view lease and verify topics (never
        another node's, and never live frames or evidence: only the hub watches them)."""
        if self.role is NodeRole.INTEGRATION:  # the discovery prefix, nothing of ours
            return any(topic_filter.startswith(f.removesuffix("#")) for f in self.hub_extra)
        if self.role is NodeRole.HUB:
            extra = any(topic_filter.startswith(f.removesuffix("#")) for f in self.hub_extra)
            return topic_filter == f"{root}/#" or topic_filter.startswith(f"{root}/") or extra
        if "+" in topic_filter or "#" in topic_filter:
            return topic_filter.startswith(node_subtree(root, self.site, self.username)[:-1])
        readable = [
            *node_write_filters(root, self.site, self.username),
            *hub_to_node_filters(root, self.site, self.username),
        ]
        return any(_matches(topic_filter, f) for f in readable)


#: Roles that see ``hub_extra`` (the discovery prefix) at all.
_PREFIX_ROLES = (NodeRole.HUB, NodeRole.INTEGRATION)


class CredentialStore:
    """Identities kept in ``identities.json`` under a broker data folder."""

    def __init__(
        self, path: Path, topic_root: str = DEFAULT_TOPIC_ROOT, hub_extra: tuple[str, ...] = ()
    ) -> None:
        """``hub_extra``: filters (``prefix/#``) hub identities may also read and write."""
        if any(not f.endswith("/#") or "+" in f for f in hub_extra):
            raise ValueError(f"hub_extra filters end in /# and have no +: {hub_extra}")
        self.path = Path(path)
        self.topic_root = topic_root
        self.hub_extra = tuple(hub_extra)
        self._lock = threading.Lock()

    def load(self) -> dict[str, Identity]:
        if not self.path.exists():
            return {}
        raw = json.loads(self.path.read_text())
        return {
            name: Identity(
                username=name,
                role=NodeRole(v["role"]),
                site=v["site"],
                password_hash=v["password_hash"],
                hub_extra=self.hub_extra if v["role"] in _PREFIX_ROLES else (),
            )
            for name, v in raw.items()
        }

    def add(self, username: str, role: NodeRole, site: str) -> str:
        """Create or replace an identity; returns its new clear-text password (shown once)."""
        password = generate_password()
        with self._lock:
            identities = self.load()
            identities[username] = Identity(
                username, role, site, hash_password(password, MOSQUITTO_ITERATIONS)
            )
            self._write(identities)
        return password

    def authenticate(self, username: str, password: str) -> Identity | None:
        ident = self.load().get(username)
        if ident and verify_password(password, ident.password_hash):
            return ident
        return None

    def _write(self, identities: dict[str, Identity]) -> None:
        data = {
            n: {k: v for k, v in asdict(i).items() if k not in ("username", "hub_extra")}
            for n, i in identities.items()
        }
        for v in data.values():
            v["role"] = str(v["role"])
        write_durably(self.path, json.dumps(data, indent=2, sort_keys=True).encode())

    # --- mosquitto renderings -------------------------------------------------------------

    def mosquitto_password_file(self) -> str:
        return "".join(f"{i.username}:{i.password_hash}\n" for i in self.load().values())

    def mosquitto_acl_file(self) -> str:
        """One block per identity, the same rules as :class:`Identity`: a node writes (and
        reads back) only its own data topics, writes its live frames and evidence, and reads only
        its own receipt, watch and verify topics; the hub reads everything under the root and
        writes its own subtree, the receipts, the watch leases and the verify requests."""
        root = self.topic_root
        blocks = []
        for ident in sorted(self.load().values(), key=lambda i: i.username):
            lines = [f"user {ident.username}"]
            if ident.role is NodeRole.HUB:
                lines += [
                    f"topic read {root}/#",
                    f"topic readwrite {node_subtree(root, ident.site, ident.username)}",
                    *(f"topic write {f}" for f in hub_to_node_filters(root, ident.site)),
                    *(f"topic readwrite {f}" for f in self.hub_extra),
                ]
            elif ident.role is NodeRole.INTEGRATION:
                for f in self.hub_extra:
                    lines += [f"topic read {f}", f"topic write {f.removesuffix('#')}status"]
            else:
                lines += [
                    f"topic readwrite {f}"
                    for f in node_write_filters(root, ident.site, ident.username)
                ]
                own = (root, ident.site, ident.username)
                lines += [f"topic read {f}" for f in hub_to_node_filters(*own)]
                lines.append(f"topic write {live_write_filter(*own)}")
                lines.append(f"topic write {evidence_write_filter(*own)}")
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks)
