"""amqtt 0.12 plugins that give the embedded broker mosquitto's security model.

amqtt loads broker plugins by dotted class path from the ``plugins`` section of its config
and builds each plugin's ``Config`` dataclass from the mapping given there (objects pass
through untouched, which is how the credential store reaches the plugins):

* :class:`CredentialAuthPlugin` — CONNECT needs a username and password that the
  :class:`~broker.credentials.CredentialStore` accepts (its PBKDF2 ``$7$`` hashes, the same
  file mosquitto's password file is rendered from). Anonymous clients are refused.
* :class:`TopicAclPlugin` — the per-node ACL: a node publishes only under
  ``{root}/{site}/{node}/#``; the hub reads ``{root}/#``. Checked on PUBLISH, SUBSCRIBE and
  on every delivery (amqtt's ``receive`` action), like mosquitto's ``acl_file``.
* :class:`RetainedStorePlugin` — retained messages (the nodes' online/offline status) kept
  in a small SQLite file so they survive a broker restart, as mosquitto's persistence does.

The authenticated :class:`~broker.credentials.Identity` is kept in the session's
``attributes`` under :data:`IDENTITY_KEY`, so the ACL never re-reads files per message.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from amqtt.contexts import Action
from amqtt.plugins.base import BaseAuthPlugin, BasePlugin, BaseTopicPlugin
from amqtt.session import Session

from broker.credentials import CredentialStore, Identity
from broker.retained import retained_allowed
from contract.protocol import DEFAULT_TOPIC_ROOT

log = logging.getLogger(__name__)

#: Session attribute holding the connected client's Identity.
IDENTITY_KEY = "villagewatch.identity"


def session_identity(session: Session | None) -> Identity | None:
    return session.attributes.get(IDENTITY_KEY) if session is not None else None


class CredentialAuthPlugin(BaseAuthPlugin):
    """Accept a CONNECT only with a username/password the credential store verifies."""

    @dataclass
    class Config:
        store: Any = None  # a CredentialStore; typed Any because dacite builds this dataclass

    async def authenticate(self, *, session: Session) -> bool:
        store: CredentialStore = self.config.store
        if not session.username or session.password is None:
            log.warning(
                "refused anonymous client %r from %s", session.client_id, session.remote_address
            )
            return False
        # Read live: a node provisioned by another process can connect at once (101 PBKDF2
        # rounds cost well under a millisecond).
        ident = store.authenticate(session.username, str(session.password))
        if ident is None:
            log.warning(
                "refused client %r: bad username or password for %r",
                session.client_id,
                session.username,
            )
            return False
        if session.will_flag and not ident.may_publish(session.will_topic or "", store.topic_root):
            # mosquitto 2.0 accepts such a client and silently drops the will when it fires.
            log.warning(
                "%s set a last will on %r outside its own topics; it will be dropped",
                ident.username,
                session.will_topic,
            )
            session.will_flag = False
        session.attributes[IDENTITY_KEY] = ident
        return True


class TopicAclPlugin(BaseTopicPlugin):
    """Per-node topic ACL from the identity the auth plugin attached to the session."""

    @dataclass
    class Config:
        topic_root: str = DEFAULT_TOPIC_ROOT

    async def topic_filtering(
        self,
        *,
        session: Session | None = None,
        topic: str | None = None,
        action: Action | None = None,
    ) -> bool:
        ident = session_identity(session)
        if ident is None or topic is None:
            return False
        root = self.config.topic_root
        if action == Action.PUBLISH:
            allowed = ident.may_publish(topic, root)
            if not allowed:
                log.warning(
                    "dropped publish from %s to %r: outside its topics", ident.username, topic
                )
            return allowed
        # SUBSCRIBE checks the filter; RECEIVE checks each concrete topic before delivery.
        return ident.may_subscribe(topic, root)


class RetainedStorePlugin(BasePlugin[Any]):
    """Keep retained messages in SQLite across restarts (amqtt keeps them only in memory)."""

    @dataclass
    class Config:
        path: str = ""
        topic_root: str = DEFAULT_TOPIC_ROOT

    def __init__(self, context: Any) -> None:
        super().__init__(context)
        self._db: sqlite3.Connection | None = None
        self._closing = False

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            Path(self.config.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.config.path)
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS retained"
                " (topic TEXT PRIMARY KEY, qos INTEGER, data BLOB)"
            )
        return self._db

    async def on_broker_pre_start(self) -> None:
        # Before the listeners open, so no subscriber can miss a restored message.
        self._closing = False
        db, db_path = self._open(), self.config.path
        keep, stray = [], []
        for row in db.execute("SELECT topic, data, qos FROM retained"):
            allowed = retained_allowed(row[0], len(row[1]), self.config.topic_root)
            (keep if allowed else stray).append(row)
        if stray:  # kept by an older version that retained anything
            with db:
                db.executemany("DELETE FROM retained WHERE topic = ?", [(t,) for t, _, _ in stray])
            log.warning("dropped %d stray retained message(s) from %s", len(stray), db_path)
        for topic, data, qos in keep:
            await self.context.retain_message(topic, data, qos)
        if keep:
            log.info("restored %d retained message(s) from %s", len(keep), db_path)

    async def on_broker_retained_message(
        self, *, client_id: str | None, retained_message: Any
    ) -> None:
        # client_id is set for messages queued for an offline persistent session: not ours.
        if self._closing or client_id is not None:
            return
        db = self._open()
        with db:
            if retained_message.data:
                db.execute(
                    "INSERT OR REPLACE INTO retained (topic, qos, data) VALUES (?, ?, ?)",
                    (
                        retained_message.topic,
                        retained_message.qos or 0,
                        bytes(retained_message.data),
                    ),
                )
            else:  # an empty retained payload clears the topic [MQTT-3.3.1-10]
                db.execute("DELETE FROM retained WHERE topic = ?", (retained_message.topic,))

    async def on_broker_pre_shutdown(self) -> None:
        # Wills fired while clients are being dropped at shutdown are not real news.
        self._closing = True

    async def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
