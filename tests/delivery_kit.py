"""Kit for the delivery fault tests (issue 7, tests 1-3): real processes, real kill -9.

- :class:`Fleet`: edge nodes, each its own process (``tests/delivery_node.py``: an Outbox and
  a Publisher), each with its own broker identity and outbox file; alert ids follow from
  ``(node, seq)``, so the test knows every id that must arrive.
- :class:`HubProcess` via :func:`start_hub`: ``villagewatch hub`` as a site runs it.
- :func:`kill9_broker`: SIGKILL mosquitto and start it again on the same port and files.
- :func:`tally`: what the hub's SQLite store holds, counted by id: lost and duplicated.

Receipt time-outs are short here (1 s, doubling up to 4 s) so a fault heals in seconds; in
production they are 30 s up to 300 s. Nothing here sleeps to let time pass: the tests wait
for a condition (stored, receipted) with a deadline.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from broker_kit import Probe, wait_until
from conftest import REPO, RunningBroker
from delivery_node import alert_id
from hub_process import HubProcess, start_hub_process

from broker.credentials import CredentialStore
from broker.mosquitto import MosquittoBroker
from contract.protocol import NodeRole, status_topic

NODE_SCRIPT = REPO / "tests" / "delivery_node.py"
#: Publisher settings of the test nodes: time-outs in seconds, not minutes.
FAST = {"receipt_timeout_s": 1.0, "max_receipt_timeout_s": 4.0}


class NodeProcess:
    """One running ``delivery_node.py``; its stdout lines are collected as they come."""

    def __init__(self, spec: dict) -> None:
        self.spec = spec
        self.proc = subprocess.Popen(
            [sys.executable, str(NODE_SCRIPT), json.dumps(spec)],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        #: The node's latest figures: PUBACKs, receipted alerts, re-sent rows.
        self.figures: dict = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            if line.startswith("figures "):
                self.figures = json.loads(line.split(" ", 1)[1])
            else:
                self.lines.put(line.strip())

    def wait_line(self, prefix: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
            except queue.Empty:
                raise AssertionError(f"{self.spec['node']}: no {prefix!r} line") from None
            if line.startswith(prefix):
                return line

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> dict:
        """SIGTERM: the node stops cleanly and reports its figures."""
        if self.proc.poll() is not None:
            return {}
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.wait_line("stopped", 20)
            self.proc.wait(10)
        except (AssertionError, subprocess.TimeoutExpired):
            self.proc.kill()  # a failed stop must not leave the node running past the test
            self.proc.wait(10)
            raise
        return self.figures


@dataclass
class Fleet:
    """``len(nodes)`` edge nodes raising ``count`` alerts each."""

    broker: RunningBroker
    folder: Path
    nodes: list[str]
    count: int
    publisher: dict = field(default_factory=lambda: dict(FAST))
    processes: dict[str, NodeProcess] = field(default_factory=dict)
    resent_by_dead: int = 0

    @classmethod
    def provision(cls, broker: RunningBroker, folder: Path, n: int, count: int, **publisher):
        nodes = [f"edge-{i}" for i in range(1, n + 1)]
        for node in nodes:
            broker.passwords[node] = broker.store.add(node, NodeRole.CAMERA_GATEWAY, "riverside")
        broker.broker.reload()
        return cls(broker, folder, nodes, count, {**FAST, **publisher})

    def spec(self, node: str) -> dict:
        return {
            "node": node,
            "connection": self.broker.connection(node).model_dump(mode="json"),
            "outbox": str(self.folder / f"{node}.outbox.sqlite"),
            "count": self.count,
            **self.publisher,
        }

    def start(self, *nodes: str) -> None:
        for node in nodes or self.nodes:
            self.processes[node] = NodeProcess(self.spec(node))

    def wait_queued(self, timeout: float = 60.0) -> None:
        """Every node has its whole burst in its outbox."""
        for p in self.processes.values():
            p.wait_line("queued", timeout)

    def expected(self) -> set[tuple[str, int, str]]:
        return {(n, s, alert_id(n, s)) for n in self.nodes for s in range(self.count)}

    @property
    def total(self) -> int:
        return len(self.nodes) * self.count

    def outbox_rows(self) -> int:
        """Rows still waiting in all outboxes (unreceipted alerts)."""
        total = 0
        for node in self.nodes:
            path = self.folder / f"{node}.outbox.sqlite"
            if path.exists():
                with sqlite3.connect(path, timeout=10) as db:
                    total += db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
        return total

    def stop(self) -> None:
        """Stop every node, even when one of them fails to stop cleanly (then raise)."""
        stop_all(*self.processes.values())

    def sum(self, figure: str) -> int:
        """A figure summed over the running nodes (``acked``, ``receipted``, ``resent``)."""
        return sum(p.figures.get(figure, 0) for p in self.processes.values())

    def resent(self) -> int:
        return self.sum("resent") + self.resent_by_dead

    def kill9(self, node: str) -> None:
        """SIGKILL one node; its figures so far are kept for :meth:`resent`."""
        p = self.processes[node]
        p.kill9()
        self.resent_by_dead += p.figures.get("resent", 0)


def stop_all(*parts) -> None:
    """``part.stop()`` for each, in order, even when one fails (then its error is raised
    after the rest have stopped): a failed stop must not leave a hub or broker running."""
    failures = []
    for part in parts:
        try:
            part.stop()
        except Exception as exc:
            failures.append(exc)
    if failures:
        raise failures[0]


@dataclass(frozen=True)
class Tally:
    """The hub's store counted against what the fleet raised."""

    stored: int
    lost: int
    duplicated: int
    unexpected: int
    #: The hub's own loss detection: sequence gaps it still counts for the fleet's nodes.
    seq_gaps: int

    @property
    def perfect(self) -> bool:
        return (self.lost, self.duplicated, self.unexpected, self.seq_gaps) == (0, 0, 0, 0)


def _query(hub_folder: Path, sql: str) -> list[tuple]:
    """Rows from the hub's SQLite store, read while it runs ([] before it made its tables)."""
    path = hub_folder / "hub" / "hub.sqlite3"
    if not path.exists():
        return []
    db = sqlite3.connect(path, timeout=10)
    try:
        return db.execute(sql).fetchall()
    except sqlite3.OperationalError:  # the hub has not made its tables yet
        return []
    finally:
        db.close()


def stored_rows(hub_folder: Path) -> list[tuple[str, int, str]]:
    """(node, seq, id) of every burst alert in the hub's store."""
    return _query(hub_folder, "SELECT node, seq, id FROM alerts WHERE kind = 'burst'")


def stored_count(hub_folder: Path) -> int:
    return len(stored_rows(hub_folder))


def tally(fleet: Fleet, hub_folder: Path) -> Tally:
    rows = stored_rows(hub_folder)
    expected = fleet.expected()
    per_alert = Counter((node, seq) for node, seq, _ in rows)
    return Tally(
        stored=len(rows),
        lost=len(expected - set(rows)),
        duplicated=sum(n - 1 for n in per_alert.values()),
        unexpected=len(set(rows) - expected),
        seq_gaps=sum(
            gaps
            for node, gaps in _query(hub_folder, "SELECT node, seq_gaps FROM nodes")
            if node in fleet.nodes
        ),
    )


def wait_delivered(fleet: Fleet, hub_folder: Path, timeout: float = 90.0) -> None:
    """Until the hub stored every alert and every outbox is empty (all receipted)."""
    ok = wait_until(
        lambda: stored_count(hub_folder) >= fleet.total and fleet.outbox_rows() == 0, timeout
    )
    assert ok, f"after {timeout} s: {tally(fleet, hub_folder)}, {fleet.outbox_rows()} unreceipted"


def kill_mid_burst(fleet: Fleet, hub_folder: Path, kill: Callable[[], None]) -> tuple[int, float]:
    """Start the fleet, ``kill()`` once the hub has stored a quarter of the burst, and check
    the kill came before the end of it. Returns the alerts stored at the kill, and when."""
    fleet.start()
    assert wait_until(lambda: stored_count(hub_folder) >= fleet.total // 4, 60)
    kill()
    at_kill, since = stored_count(hub_folder), time.monotonic()
    assert at_kill < fleet.total, "the kill came after the burst: not mid-burst"
    return at_kill, since


def assert_heals(
    fleet: Fleet, hub_folder: Path, what: str, since: float, timeout: float = 90.0
) -> Tally:
    """Wait until every alert is delivered, print the figures (``-s`` shows them) and
    assert that nothing was lost or duplicated."""
    wait_delivered(fleet, hub_folder, timeout)
    result = tally(fleet, hub_folder)
    print(
        f"{what}: {result}, healed in {time.monotonic() - since:.1f} s, "
        f"{fleet.resent()} copies re-sent"
    )
    assert result.perfect, result
    assert result.stored == fleet.total
    return result


def start_hub(broker: RunningBroker, folder: Path, ready: bool = True) -> HubProcess:
    """``villagewatch hub`` with its data in ``folder/hub``; ``ready`` waits until it has
    subscribed (its retained status says online: published after its SUBSCRIBE)."""
    hub = start_hub_process(folder, broker.connection("hub", NodeRole.HUB))
    if ready:
        probe = Probe(broker.hub_port, "hub", broker.passwords["hub"], "delivery-readiness")
        topic = status_topic("vw", "riverside", "hub")
        probe.subscribe(topic, qos=1)
        online = wait_until(
            lambda: any(json.loads(p).get("state") == "online" for p in probe.payloads(topic)),
            30,
        )
        probe.close()
        assert online, "the hub never came online"
    return hub


def kill9_hub(hub: HubProcess) -> None:
    hub.proc.send_signal(signal.SIGKILL)
    hub.proc.wait(10)


def kill9_broker(broker: RunningBroker) -> None:
    """SIGKILL mosquitto: whatever it had not saved (autosave every 30 s) is gone."""
    proc = broker.broker.process
    assert proc is not None and proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    broker.broker.stop()  # forget the dead process (and stop its sweeper)


class SmallQueueMosquitto(MosquittoBroker):
    """Mosquitto keeping at most ``max_queued`` messages for a client that is away, so a
    burst overflows it the way a long hub outage overflows the production limit."""

    def __init__(self, *args, max_queued: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_queued = max_queued

    def render(self) -> None:
        super().render()
        conf = self.conf_path.read_text()
        limit = f"max_queued_messages {self.max_queued}"
        conf = re.sub(r"(?m)^max_queued_messages \d+$", limit, conf)
        assert limit in conf
        self.conf_path.write_text(conf)


def small_queue_broker(folder: Path, max_queued: int) -> RunningBroker:
    store = CredentialStore(folder / "identities.json")
    running = RunningBroker(SmallQueueMosquitto(folder, store, max_queued=max_queued), store)
    running.passwords["hub"] = store.add("hub", NodeRole.HUB, "riverside")
    running.broker.start()
    return running
