"""Choose, start and supervise the site's MQTT broker (``villagewatch broker``).

``broker.kind`` in the site file decides:

``mosquitto``  Eclipse Mosquitto, the production broker; an error if it is not installed.
``embedded``   the pure-Python amqtt broker (:mod:`broker.embedded`), no install needed.
``auto``       mosquitto when installed, else the embedded broker (the default).
``external``   a broker someone else runs; nothing to start here, so asking for one fails.

Both brokers read the same credential store, ``<broker data_dir>/identities.json``.
``villagewatch provision`` may change it from another process at any time; :func:`run_broker`
notices within a couple of seconds and reloads the broker (no SIGHUP needed).

:func:`run_broker` also *supervises* the broker: if mosquitto dies (a crash, the OOM killer,
a kill -9) it is started again on the same ports and data folder, after a pause that doubles
with each quick death (0.5 s up to 30 s) so a broker that cannot start does not spin. Nodes
and the hub reconnect by themselves; with end-to-end receipts nothing is lost meanwhile.
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from broker.credentials import CredentialStore
from broker.embedded import EmbeddedBroker
from broker.mosquitto import MosquittoBroker, find_mosquitto
from broker.provision import credential_store
from broker.tls import site_tls
from contract.certificates import CertificateError, ServerTls
from contract.hosts import is_loopback
from contract.siteconfig import BrokerSettings, SiteConfig

log = logging.getLogger(__name__)

Broker = MosquittoBroker | EmbeddedBroker

#: How often run_broker looks at identities.json for changes (and at the broker's health).
RELOAD_POLL_S = 2.0
#: Restart pauses: the first after a death, doubling up to the last; a broker that then
#: stays up for STABLE_S starts again from the first.
RESTART_BACKOFF_S = (0.5, 30.0)
STABLE_S = 60.0

_INSTALL_HINT = (
    "install it (Debian/Ubuntu: sudo apt-get install mosquitto) or set broker.kind: embedded"
)


class BrokerSelectionError(RuntimeError):
    """The site file asks for a broker this machine cannot run. ``str()`` says what to do."""


def mosquitto_version(binary: str) -> str:
    """``"2.0.11"`` or ``"(unknown version)"``; ``mosquitto -h`` prints it on its first line."""
    try:
        out = subprocess.run([binary, "-h"], capture_output=True, text=True, timeout=5)
        first = (out.stdout or out.stderr).splitlines()[0]
        return (
            first.rsplit(" ", 1)[-1]
            if first.startswith("mosquitto version")
            else "(unknown version)"
        )
    except (OSError, IndexError, subprocess.SubprocessError):
        return "(unknown version)"


def describe(broker: Broker) -> str:
    """One line naming the broker, for logs and the demo banner."""
    where = f"{broker.host}:{broker.port}"
    if isinstance(broker, MosquittoBroker):
        return f"Eclipse Mosquitto {mosquitto_version(broker.binary or 'mosquitto')} at {where}"
    return (
        "embedded amqtt broker (zero-install, for the demo: loopback only, no TLS; "
        f"use mosquitto in production) at {where}"
    )


def open_broker(
    settings: BrokerSettings,
    data_dir: Path,
    store: CredentialStore,
    tls: ServerTls | None = None,
) -> Broker:
    """The broker ``settings.kind`` asks for, configured but not started; ``tls`` (see
    :func:`broker.tls.site_tls`) adds mosquitto's TLS listener on ``settings.tls_port``.

    Raises :class:`BrokerSelectionError` for ``external``, for ``mosquitto`` when the
    binary is missing, and for the embedded broker asked to face a network or serve TLS.
    """
    kind = settings.kind
    if kind == "external":
        raise BrokerSelectionError(
            "broker.kind is 'external': this site uses a broker run elsewhere, so there is "
            "nothing to start here. Give its address to 'villagewatch provision --host', or "
            "set broker.kind: auto to run one on this machine."
        )
    binary = find_mosquitto()
    if kind == "mosquitto" and binary is None:
        raise BrokerSelectionError(
            f"broker.kind is 'mosquitto' but mosquitto is not installed: {_INSTALL_HINT}"
        )
    if kind == "mosquitto" or (kind == "auto" and binary is not None):
        broker: Broker = MosquittoBroker(
            data_dir,
            store,
            settings.host,
            settings.port,
            settings.hub_host,
            settings.hub_port,
            tls,
            settings.tls_port,
            settings.tls_host,
        )
        log.info("broker: %s (broker.kind: %s)", describe(broker), kind)
        return broker
    reason = "mosquitto is not installed" if kind == "auto" else "broker.kind: embedded"
    _check_embedded_fits(settings, reason)
    broker = EmbeddedBroker(
        data_dir, store, settings.host, settings.port, settings.hub_host, settings.hub_port
    )
    log.warning("broker: %s (%s)", describe(broker), reason)
    return broker


def _check_embedded_fits(settings: BrokerSettings, reason: str) -> None:
    """The embedded broker is for the demo: loopback only, no TLS."""
    exposed = [h for h in (settings.host, settings.hub_host) if not is_loopback(h)]
    if exposed:
        raise BrokerSelectionError(
            f"the embedded broker ({reason}) binds loopback only, but broker.host/hub_host is "
            f"{exposed[0]!r}: {_INSTALL_HINT.replace(' or set broker.kind: embedded', '')}"
        )
    if settings.tls_port:
        raise BrokerSelectionError(
            f"broker.tls_port is set but the embedded broker ({reason}) has no TLS: install "
            "mosquitto (sudo apt-get install mosquitto) or set tls_port: 0 for a demo"
        )


class _FileWatch:
    """Tells whether a file changed since the last look (atomic replaces change the inode)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._last = self._stamp()

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def changed(self) -> bool:
        now = self._stamp()
        if now == self._last:
            return False
        self._last = now
        return True


def run_broker(
    config: SiteConfig,
    stop: threading.Event,
    on_ready: Callable[[Broker], None] | None = None,
    poll_s: float = RELOAD_POLL_S,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Run the site's broker until ``stop`` is set: reload it when identities.json changes,
    start it again when it dies (see the module docstring).

    ``on_ready(broker)`` is called once it first accepts connections (the demo uses it).
    Raises :class:`BrokerSelectionError` before starting anything if the broker cannot be
    run (including TLS files that do not fit), and RuntimeError if it cannot be started.
    """
    data_dir = config.resolve(config.broker.data_dir)
    store = credential_store(config)
    try:
        tls = site_tls(config)
    except CertificateError as exc:
        raise BrokerSelectionError(f"broker TLS: {exc}") from None
    broker = open_broker(config.broker, data_dir, store, tls)
    watch = _FileWatch(store.path)
    broker.start()
    log.info("running %s; %d identities in %s", describe(broker), len(store.load()), store.path)
    if not store.load():
        log.warning(
            "no identities yet: run 'villagewatch provision --config FILE <node>' for "
            "the hub and every node; the broker picks them up without a restart"
        )
    restarts = _Restarts(clock)
    try:
        if on_ready is not None:
            on_ready(broker)
        while not stop.wait(poll_s):
            if not broker.is_running():
                _restart(broker, restarts, stop, data_dir)
            elif watch.changed():
                log.info("%s changed: reloading credentials", store.path.name)
                broker.reload()
    finally:
        broker.stop()
        log.info("broker stopped")


class _Restarts:
    """The pause before the next restart: doubles while the broker keeps dying quickly."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.count = 0
        self._pause = RESTART_BACKOFF_S[0]
        self._started = clock()

    def next_pause(self) -> float:
        if self.clock() - self._started >= STABLE_S:
            self._pause = RESTART_BACKOFF_S[0]  # it ran long enough: forget earlier deaths
        pause = self._pause
        self._pause = min(self._pause * 2, RESTART_BACKOFF_S[1])
        self._started = self.clock()  # a failed attempt counts as a quick death
        return pause

    def started(self) -> None:
        self.count += 1
        self._started = self.clock()


def _restart(broker: Broker, restarts: _Restarts, stop: threading.Event, data_dir: Path) -> None:
    """Start a dead broker again after the backoff pause (unless asked to stop meanwhile)."""
    exit_info = ""
    if isinstance(broker, MosquittoBroker) and broker.process is not None:
        exit_info = f" (exit status {broker.process.returncode})"
    pause = restarts.next_pause()
    log.error(
        "%s died%s; starting it again in %.1f s (log in %s)",
        describe(broker),
        exit_info,
        pause,
        data_dir,
    )
    broker.stop()  # reap the process and stop the sweeper
    if stop.wait(pause):
        return
    try:
        broker.start()
    except RuntimeError as exc:  # e.g. the port is still held: try again after a longer pause
        log.error("restart failed: %s", exc)
        return
    restarts.started()
    log.warning("%s restarted (restart #%d)", describe(broker), restarts.count)
