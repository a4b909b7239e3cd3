"""Broker identities: generated passwords, their hashes, and the per-node topic ACL.

One :class:`CredentialStore` (a JSON file of PBKDF2 hashes, mode 0600) is the source of
truth for both brokers: :mod:`broker.mosquitto` renders it as mosquitto's ``password_file``
and ``acl_file``; :mod:`broker.embedded` checks it directly. Passwords are generated at
provisioning and never stored in clear on the hub; only the node's connection file holds one.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from contract.passwords import MOSQUITTO_ITERATIONS, hash_password, verify_password
from contract.protocol import DEFAULT_TOPIC_ROOT, NodeRole, node_subtree


def generate_password() -> str:
    """A fresh 24-character URL-safe password (144 bits)."""
    return secrets.token_urlsafe(18)


@dataclass(frozen=True)
class Identity:
    username: str
    role: NodeRole
    site: str
    password_hash: str

    def may_publish(self, topic: str, root: str) -> bool:
        """Nodes publish only under their own subtree; the hub publishes nothing but its own."""
        prefix = node_subtree(root, self.site, self.username)[:-1]  # drop the '#'
        return topic.startswith(prefix)

    def may_subscribe(self, topic_filter: str, root: str) -> bool:
        if self.role is NodeRole.HUB:
            return topic_filter == f"{root}/#" or topic_filter.startswith(f"{root}/")
        return topic_filter.startswith(node_subtree(root, self.site, self.username)[:-1])


class CredentialStore:
    """Identities kept in ``identities.json`` under a broker data folder."""

    def __init__(self, path: Path, topic_root: str = DEFAULT_TOPIC_ROOT) -> None:
        self.path = Path(path)
        self.topic_root = topic_root
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            n: {k: v for k, v in asdict(i).items() if k != "username"}
            for n, i in identities.items()
        }
        for v in data.values():
            v["role"] = str(v["role"])
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2, sort_keys=True)
        os.replace(tmp, self.path)

    # --- mosquitto renderings -------------------------------------------------------------

    def mosquitto_password_file(self) -> str:
        return "".join(f"{i.username}:{i.password_hash}\n" for i in self.load().values())

    def mosquitto_acl_file(self) -> str:
        """One block per identity: nodes write (and read) only their own subtree."""
        root = self.topic_root
        blocks = []
        for ident in sorted(self.load().values(), key=lambda i: i.username):
            own = node_subtree(root, ident.site, ident.username)
            if ident.role is NodeRole.HUB:
                blocks.append(
                    f"user {ident.username}\ntopic read {root}/#\ntopic readwrite {own}\n"
                )
            else:
                blocks.append(f"user {ident.username}\ntopic readwrite {own}\n")
        return "\n".join(blocks)
