"""Choose, start and supervise the site's MQTT broker (``villagewatch broker``).

``broker.kind`` in the site file decides:

``mosquitto``  Eclipse Mosquitto, the production broker; an error if it is not installed.
``embedded``   the pure-Python amqtt broker (:mod:`broker.embedded`), no install needed.
``auto``       mosquitto when installed, else the embedded broker (the default).
``external``   a broker someone else runs; nothing to start here, so asking for one fails.

Both brokers read the same credential store, ``<broker data_dir>/identities.json``.
``villagewatch provision`` may change it from another process at any time; :func:`run_broker`
notices within a couple of seconds and reloads the broker (no SIGHUP needed).
"""

from __future__ import annotations

import logging
import os
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path

from broker.credentials import CredentialStore
from broker.embedded import EmbeddedBroker
from broker.mosquitto import MosquittoBroker, find_mosquitto
from broker.provision import credential_store
from contract.siteconfig import BrokerSettings, SiteConfig

log = logging.getLogger(__name__)

Broker = MosquittoBroker | EmbeddedBroker

#: How often run_broker looks at identities.json for changes.
RELOAD_POLL_S = 2.0

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
    return f"embedded amqtt broker (zero-install default; use mosquitto in production) at {where}"


def open_broker(settings: BrokerSettings, data_dir: Path, store: CredentialStore) -> Broker:
    """The broker ``settings.kind`` asks for, configured but not started.

    Raises :class:`BrokerSelectionError` for ``external`` and for ``mosquitto`` when the
    binary is missing.
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
        broker: Broker = MosquittoBroker(data_dir, store, settings.host, settings.port)
        log.info("broker: %s (broker.kind: %s)", describe(broker), kind)
        return broker
    broker = EmbeddedBroker(data_dir, store, settings.host, settings.port)
    reason = "mosquitto is not installed" if kind == "auto" else "broker.kind: embedded"
    log.warning("broker: %s (%s)", describe(broker), reason)
    return broker


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
) -> None:
    """Run the site's broker until ``stop`` is set; reload it when identities.json changes.

    ``on_ready(broker)`` is called once it accepts connections (the demo uses it). Raises
    :class:`BrokerSelectionError` before starting anything if the broker cannot be run, and
    RuntimeError if the broker dies underneath us.
    """
    data_dir = config.resolve(config.broker.data_dir)
    store = credential_store(config)
    broker = open_broker(config.broker, data_dir, store)
    watch = _FileWatch(store.path)
    broker.start()
    log.info("running %s; %d identities in %s", describe(broker), len(store.load()), store.path)
    if not store.load():
        log.warning(
            "no identities yet: run 'villagewatch provision --config FILE <node>' for "
            "the hub and every node; the broker picks them up without a restart"
        )
    try:
        if on_ready is not None:
            on_ready(broker)
        while not stop.wait(poll_s):
            if not broker.is_running():
                raise RuntimeError(f"{describe(broker)} stopped unexpectedly (see {data_dir})")
            if watch.changed():
                log.info("%s changed: reloading credentials", store.path.name)
                broker.reload()
    finally:
        broker.stop()
        log.info("broker stopped")
