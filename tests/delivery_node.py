"""One edge node as its own process, for the delivery fault tests: an Outbox and a Publisher.

Run as ``python tests/delivery_node.py SPEC_JSON``. The spec names the node's connection
file, its outbox, how many alerts it raises in total and the publisher's settings. Alert
``seq`` numbers come from the outbox's persisted counter, and each alert's id is derived
from ``(node, seq)``, so a test knows every id that must reach the hub without asking, and a
node restarted after a kill -9 carries on from where its outbox stopped. With ``prefill`` the
whole burst is queued before the publisher starts (a gateway whose uplink comes back after an
outage), otherwise while it runs.

It prints ``queued <n>`` once all its alerts are in the outbox, ``figures {json}`` (PUBACKs,
receipted alerts, re-sent rows) every 0.2 s, and on SIGTERM stops cleanly, prints its last
figures and exits.
"""

from __future__ import annotations

import hashlib
import json
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contract.connection import NodeConnection
from contract.protocol import Alert, Severity, alert_topic, encode
from edge.outbox import Outbox
from edge.publisher import Publisher


def alert_id(node: str, seq: int) -> str:
    """The id of alert ``seq`` of ``node``: fixed, so tests can list every expected id."""
    return hashlib.md5(f"{node}/{seq}".encode()).hexdigest()


def make_alert(conn: NodeConnection, seq: int) -> Alert:
    return Alert(
        id=alert_id(conn.node, seq),
        site=conn.site,
        node=conn.node,
        seq=seq,
        ts=datetime.now(UTC),
        kind="burst",
        severity=Severity.INFO,
        area="plaza",
        message=f"burst alert {seq}",
    )


def main(spec: dict) -> int:
    conn = NodeConnection.model_validate(spec["connection"])
    outbox = Outbox(Path(spec["outbox"]))
    publisher = Publisher(
        conn,
        outbox,
        window=spec.get("window", 1000),
        receipt_timeout_s=spec.get("receipt_timeout_s", 30.0),
        max_receipt_timeout_s=spec.get("max_receipt_timeout_s", 300.0),
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    topic = alert_topic(conn.topic_root, conn.site, conn.node)
    total = spec["count"]
    first = (outbox.counter() if outbox.counter() is not None else -1) + 1

    def queue(upto: int) -> None:
        for _ in range(outbox.counter() + 1 if outbox.counter() is not None else 0, upto):
            outbox.put_numbered(lambda seq: [(topic, encode(make_alert(conn, seq)), 1)])
            publisher.kick()
            if done.is_set():
                return

    if spec.get("prefill"):  # the burst is already waiting when the uplink comes up
        queue(total)
    publisher.start()

    def figures() -> str:
        return "figures " + json.dumps(
            {"acked": publisher.acked, "receipted": publisher.receipted, "resent": publisher.resent}
        )

    def report() -> None:
        while not done.wait(0.2):
            say(figures())

    threading.Thread(target=report, daemon=True).start()
    queue(total)
    say(f"queued {total - first}")
    done.wait()
    publisher.stop()
    outbox.close()
    say(figures())
    say("stopped")
    return 0


_SAY = threading.Lock()


def say(line: str) -> None:
    """One whole line to the test. print() writes the text and the newline separately, so
    the reporting thread and the main thread interleaved them ("figures {..}figures {..}")
    and the test's reader failed on the torn line."""
    with _SAY:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
