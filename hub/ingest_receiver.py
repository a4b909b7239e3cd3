"""The hub's MQTT connection in a process of its own, for ingest past one core.

Python runs one thread at a time (the GIL). In one process, paho's network thread (~30 µs
a message) and the writer (~60 µs an alert) share one core, and their hand-offs waste a
third of it: about 6,500 alerts/s. Here paho runs in a child process; the hub's process
only stores.

::

    child (this module)                            hub process
    paho network thread -> buffer -> pipe  ====>  reader thread -> IngestPipeline.submit
    acks / publishes    <- pipe           <====  writer thread (after each commit)

A batch crosses the pipe as one pickled list (well under a microsecond per message).
:class:`ReceiverLink` offers the part of :class:`~contract.mqtt.MqttLink` the hub uses
(``start``, ``stop``, ``ack``, ``publish``, ``connected``), so :class:`hub.service.HubService`
takes either. The child keeps the hub's client id and persistent session; if it dies, the
link starts a new one, and the broker redelivers whatever was not acknowledged.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

from contract.connection import NodeConnection
from contract.mqtt import Delivery, LinkSettings, MqttLink

log = logging.getLogger(__name__)
_REPO = Path(__file__).resolve().parents[1]

_SESSIONS_PER_CHILD = 10**6
#: Largest batch the child sends at once (the writer batches again on its side).
CHUNK = 500


def main(argv: list[str] | None = None) -> None:
    """``python -m hub.ingest_receiver FD``: the child, talking over the socket FD. Its
    first message says who to be (the hub's connection and link options)."""
    logging.basicConfig(level=logging.WARNING, format="receiver %(levelname)s %(message)s")
    _die_with_parent()
    pipe = Connection(int((argv or sys.argv)[1]))
    connection, options = pipe.recv()
    _child(connection, options, pipe)


def _child(connection: NodeConnection, options: dict, pipe: Connection) -> None:
    """The receiver process: a real MqttLink whose deliveries go down ``pipe``."""
    buffer: list[tuple] = []
    ready = threading.Condition()
    sending = threading.Lock()  # paho's thread and the forwarder both send

    def send(message: tuple) -> None:
        with sending:
            pipe.send(message)

    def deliver(d: Delivery) -> None:
        with ready:
            buffer.append((d.topic, d.payload, d.mid, d.qos, d.session))
            if len(buffer) == 1 or len(buffer) >= CHUNK:
                ready.notify()

    def changed(up: bool) -> None:
        send(("connected", up))

    link = MqttLink(
        LinkSettings.for_node(connection, **options),
        on_delivery=deliver,
        on_connection_change=changed,
    )
    stopping = threading.Event()

    def forward() -> None:
        while not stopping.is_set():
            with ready:
                while not buffer and not stopping.is_set():
                    ready.wait(0.5)
                batch, buffer[:] = list(buffer[:CHUNK]), buffer[CHUNK:]
            if batch:
                send(("batch", batch))

    link.start()
    sender = threading.Thread(target=forward, daemon=True)
    sender.start()
    try:
        while True:
            command, *args = pipe.recv()
            if command == "ack":
                link.ack([Delivery("", b"", mid, qos, session) for mid, qos, session in args[0]])
            elif command == "publish":
                link.publish(*args)
            elif command == "stop":
                break
    except (EOFError, OSError):  # the hub is gone: leave, the broker keeps our session
        pass
    finally:
        stopping.set()
        with ready:
            ready.notify()
        link.stop()


def _die_with_parent() -> None:
    """Linux: SIGKILL this process when the hub dies, even by kill -9, so no orphan keeps
    the hub's MQTT session (elsewhere the closed pipe ends it a moment later)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class ReceiverLink:
    """The hub side of the receiver process: looks like an MqttLink to the hub."""

    def __init__(
        self,
        connection: NodeConnection,
        on_delivery: Callable[[Delivery], None],
        on_connection_change: Callable[[bool], None] | None = None,
        **options,
    ) -> None:
        self.connection = connection
        self.options = {**options, "ack_when_handled": True}
        self._on_delivery = on_delivery
        self._on_connection_change = on_connection_change
        self.connected = threading.Event()
        self._pipe: Connection | None = None
        self._process: subprocess.Popen | None = None
        self._reader: threading.Thread | None = None
        self._send_lock = threading.Lock()
        self._stopping = False
        self._respawn_s = 1.0
        self._generation = 0  # which child: Delivery.session = generation * 10**6 + its own

    def start(self) -> None:
        self._stopping = False
        self._spawn()

    def _spawn(self) -> None:
        self._generation += 1
        # A fresh interpreter (not fork: the hub has threads; not multiprocessing's spawn:
        # it re-runs the parent's __main__), talking over one end of a socket pair.
        ours, theirs = socket.socketpair()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(_REPO), *sys.path])}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "hub.ingest_receiver", str(theirs.fileno())],
            pass_fds=[theirs.fileno()],
            env=env,
        )
        theirs.close()
        self._pipe = Connection(ours.detach())
        self._pipe.send((self.connection, self.options))
        self._reader = threading.Thread(target=self._read, args=(self._pipe,), daemon=True)
        self._reader.start()

    def _read(self, pipe: Connection) -> None:
        while True:
            try:
                kind, value, *_ = pipe.recv()
            except (EOFError, OSError):
                break
            if kind == "batch":
                base = self._generation * _SESSIONS_PER_CHILD
                for topic, payload, mid, qos, session in value:
                    self._on_delivery(Delivery(topic, payload, mid, qos, base + session))
            elif kind == "connected":
                (self.connected.set if value else self.connected.clear)()
                if self._on_connection_change:
                    self._on_connection_change(value)
        self.connected.clear()
        if not self._stopping:  # the child died: a new one resumes the broker session
            log.error("the MQTT receiver process exited; another in %.0f s", self._respawn_s)
            time.sleep(self._respawn_s)  # never a tight loop of crashing children
            self._respawn_s = min(self._respawn_s * 2, 30.0)
            if not self._stopping:
                self._spawn()

    def _send(self, message: tuple) -> bool:
        pipe = self._pipe
        if pipe is None:
            return False
        try:
            with self._send_lock:
                pipe.send(message)
            return True
        except (OSError, ValueError):
            return False

    def ack(self, deliveries: list[Delivery]) -> int:
        # Only this child's deliveries: a new child numbers its sessions from 1 again, and
        # an old message id may name another message on its connection.
        base = self._generation * _SESSIONS_PER_CHILD
        acks = [
            (d.mid, d.qos, d.session - base)
            for d in deliveries
            if d.qos > 0 and base < d.session < base + _SESSIONS_PER_CHILD
        ]
        return len(acks) if acks and self._send(("ack", acks)) else 0

    def publish(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int | None:
        """Queue a publish in the child (the result comes back asynchronously): returns
        1 when handed over, None when the child is not connected."""
        if not self.connected.is_set():
            return None
        return 1 if self._send(("publish", topic, payload, qos, retain)) else None

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self.connected.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping = True
        self._send(("stop",))
        if self._process is not None:
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._pipe is not None:
            self._pipe.close()
        self.connected.clear()


if __name__ == "__main__":
    main()
