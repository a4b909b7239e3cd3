"""Run a real Eclipse Mosquitto from a configuration we generate.

The generated ``mosquitto.conf`` has no anonymous access, password files and an ACL rendered
from the :class:`~broker.credentials.CredentialStore`, persistence and queue limits chosen
for end-to-end receipts (the reasons are written into the file), and explicit listeners
(with a ``listener`` line mosquitto ignores ``-p``, so the ports live in the file):

* the **node listener** (``broker.host:port``) and, with TLS, the **TLS node listener**
  (``tls_port``): ``use_username_as_clientid`` makes every client's id its username, so a
  node can only ever take over its own session, never another node's or the hub's;
* the **hub listener** (``hub_host:hub_port``, loopback by default): only hub identities can
  log in there (its own password file), and they choose their client ids (several hub
  workers, each with a persistent session). No node can connect with the hub's id. With
  TLS on the site it is a TLS listener too (the hub may run on another machine).

Re-rendering plus SIGHUP applies new credentials without dropping connections. Stray
retained messages are swept by :class:`~broker.retained.RetainedSweeper` (mosquitto 2.0.11
cannot refuse them per topic).
"""

from __future__ import annotations

import getpass
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from broker.credentials import CredentialStore
from broker.retained import SWEEPER_USERNAME, RetainedSweeper, sweeper_acl
from contract.certificates import ServerTls
from contract.files import write_durably
from contract.hosts import dialable
from contract.passwords import MOSQUITTO_ITERATIONS, hash_password
from contract.protocol import MAX_SNAPSHOT_BYTES, NodeRole

log = logging.getLogger(__name__)

#: Per-client queue while a client is away or behind (the hub's persistent session). With
#: receipts an edge keeps every alert until the hub stored it, so a message dropped here is
#: re-sent, not lost; the limits only bound memory and how much is re-sent.
MAX_QUEUED_MESSAGES = 100_000
MAX_QUEUED_BYTES = 256 * 1024 * 1024
#: QoS 1 messages the broker sends a client before its PUBACKs: the hub acks after a group
#: commit, so it needs a wide window to batch (mosquitto's default of 20 caps each batch).
MAX_INFLIGHT_MESSAGES = 1000
#: Seconds between saves of the in-memory database (see the generated file for why).
AUTOSAVE_INTERVAL_S = 30


def find_mosquitto() -> str | None:
    """Path of the mosquitto binary (Debian puts it in /usr/sbin, often not on PATH)."""
    return shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(p, os.X_OK)),
        None,
    )


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class MosquittoBroker:
    """One mosquitto process with its generated files under ``data_dir``."""

    kind = "mosquitto"

    def __init__(
        self,
        data_dir: Path,
        store: CredentialStore,
        host: str = "127.0.0.1",
        port: int = 0,
        hub_host: str = "127.0.0.1",
        hub_port: int = 0,
        tls: ServerTls | None = None,
        tls_port: int = 0,
        tls_host: str | None = None,
    ) -> None:
        self.binary = find_mosquitto()
        if self.binary is None:
            raise FileNotFoundError(
                "mosquitto is not installed (Debian: apt-get install mosquitto)"
            )
        self.data_dir = Path(data_dir).resolve()
        self.store = store
        self.host = host
        self.port = port or free_port(host)
        self.hub_host = hub_host
        self.hub_port = hub_port or free_port(hub_host)
        self.tls = tls
        self.tls_host = tls_host or host
        self.tls_port = (tls_port or free_port(dialable(self.tls_host))) if tls else 0
        self.process: subprocess.Popen | None = None
        # The sweeper's password lives only in this process; a restart makes a new one.
        self._sweeper_password = secrets.token_urlsafe(18)
        # The sweeper uses the plain node listener (its id, bound to its username, is unique);
        # the hub listener may be TLS.
        self.sweeper = RetainedSweeper(
            dialable(host), self.port, self._sweeper_password, store.topic_root
        )

    @property
    def conf_path(self) -> Path:
        return self.data_dir / "mosquitto.conf"

    def render(self) -> None:
        """Write mosquitto.conf, the password files and the ACL from the credential store."""
        d = self.data_dir
        (d / "persistence").mkdir(parents=True, exist_ok=True)
        identities = self.store.load().values()
        sweeper = (
            f"{SWEEPER_USERNAME}:{hash_password(self._sweeper_password, MOSQUITTO_ITERATIONS)}\n"
        )
        hubs = "".join(
            f"{i.username}:{i.password_hash}\n" for i in identities if i.role is NodeRole.HUB
        )
        _write_private(d / "passwd", self.store.mosquitto_password_file() + sweeper)
        _write_private(d / "passwd-hub", hubs)
        acl = self.store.mosquitto_acl_file() + "\n" + sweeper_acl(self.store.topic_root)
        _write_private(d / "acl", acl)
        _write_private(self.conf_path, self._conf())

    def _conf(self) -> str:
        d = self.data_dir
        auth = f"allow_anonymous false\nacl_file {d / 'acl'}\n"
        nodes = f"use_username_as_clientid true\n{auth}password_file {d / 'passwd'}\n"
        tls = hub_tls = ""
        if self.tls:
            certs = (
                f"cafile {self.tls.ca}\ncertfile {self.tls.cert}\nkeyfile {self.tls.key}\n"
                "tls_version tlsv1.2\n"
            )
            tls = f"""
# Nodes over TLS: the server certificate is signed by the site CA that every node's
# connection file carries, so a node verifies it is talking to this broker.
listener {self.tls_port} {self.tls_host}
{nodes}{certs}"""
            hub_tls = f"# With TLS on the site, the hub's listener is TLS too.\n{certs}"
        return f"""# Generated by villagewatch; edit the site file and re-run instead.
per_listener_settings true
persistence true
persistence_location {d / "persistence"}/

# Persistence and queues for end-to-end receipts. An edge deletes an alert only when the
# hub's receipt says it is stored, and re-sends it otherwise; the hub ignores duplicates.
# So the broker is no longer where alerts must survive: anything it loses (a kill -9
# before a save, a queue overflow) comes again from the edges. Saving is for the hub's
# session, subscriptions and the retained node statuses, which change rarely.
# autosave_on_changes is off on purpose: mosquitto writes its whole database at each save,
# from its single thread, so saving every N changes would rewrite a large queue many times
# a second during a burst and stall every client (bench/broker_autosave.py: a 100,000-alert
# burst queued for an away hub is acknowledged at 5,600/s saving every 1,000 changes, at
# 16,000-20,000/s saving every 30 s). A save every {AUTOSAVE_INTERVAL_S} s costs at most
# {AUTOSAVE_INTERVAL_S} s of re-sends after a crash.
autosave_on_changes false
autosave_interval {AUTOSAVE_INTERVAL_S}
# The hub's backlog while it restarts or falls behind: about 10 s of a 10,000/s burst, or
# a day of a busy site; the byte limit keeps snapshots from exhausting memory. Beyond it
# mosquitto drops messages for the hub, and the edges re-send them after their receipt
# time-out: slower, never lost.
max_queued_messages {MAX_QUEUED_MESSAGES}
max_queued_bytes {MAX_QUEUED_BYTES}
# The hub acknowledges after each group commit; a wide window lets it batch.
max_inflight_messages {MAX_INFLIGHT_MESSAGES}
# A persistent session nobody resumes (a retired node) is dropped after two weeks.
persistent_client_expiration 14d
# Receipts and alerts are small: send them at once rather than waiting for an ACK.
set_tcp_nodelay true
# Snapshots are the largest legitimate messages; anything bigger is refused at the door.
max_packet_size {MAX_SNAPSHOT_BYTES + 64 * 1024}
log_dest file {d / "mosquitto.log"}
log_type error
log_type warning
log_type notice
log_type information
connection_messages true
# Keep our own user: dropping to 'mosquitto' would lose access to these 0600 files.
user {getpass.getuser()}

# Nodes: each client's id is its username, so no one can take over another's session.
listener {self.port} {self.host}
{nodes}{tls}
# The hub: only hub identities can log in here, and they choose their client ids.
listener {self.hub_port} {self.hub_host}
{auth}password_file {d / "passwd-hub"}
{hub_tls}"""

    def start(self, timeout: float = 10.0) -> None:
        self.render()
        log_file = self.data_dir / "mosquitto.log"
        offset = log_file.stat().st_size if log_file.exists() else 0
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        # Wait for mosquitto's own "running" line, not just an open port: another program
        # holding the port would answer while our mosquitto exits with "address in use".
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if _logged_since(log_file, offset, " running") and wait_for_port(
                self.host, self.port, 0.5
            ):
                log.info(
                    "Eclipse Mosquitto (%s) listening on %s:%s (nodes), %s:%s (hub)%s, config %s",
                    self.binary,
                    self.host,
                    self.port,
                    self.hub_host,
                    self.hub_port,
                    f", {self.tls_host}:{self.tls_port} (nodes, TLS)" if self.tls else "",
                    self.conf_path,
                )
                self._sweep_now_and_then()
                return
            time.sleep(0.02)
        err = self.stop() or ""
        tail = _read_from(log_file, offset)[-500:]
        raise RuntimeError(
            f"mosquitto did not start on {self.host}:{self.port}: {(err + tail).strip()[-500:]}"
        )

    def _sweep_now_and_then(self) -> None:
        """Clear stray retained messages restored from disk at once, then periodically."""
        try:
            self.sweeper.sweep()
        except (OSError, RuntimeError) as exc:
            log.warning("retained sweep at start failed: %s", exc)
        self.sweeper.start()

    def reload(self) -> None:
        """Apply changed credentials/ACL without dropping clients."""
        self.render()
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGHUP)

    def stop(self) -> str | None:
        """Stop the process; returns whatever it wrote to stderr."""
        proc, self.process = self.process, None
        if proc is None:
            return None
        self.sweeper.stop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.stderr.read().decode(errors="replace") if proc.stderr else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None


def _read_from(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


def _logged_since(path: Path, offset: int, needle: str) -> bool:
    return needle in _read_from(path, offset)


def _write_private(path: Path, text: str) -> None:
    write_durably(path, text.encode())
