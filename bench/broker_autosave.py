"""Why the generated mosquitto.conf saves every 30 s and not "on changes".

A burst of QoS 1 alerts is published while the hub is away, so mosquitto queues all of them
for the hub's persistent session (its memory and its database grow). Mosquitto writes its
*whole* database at every save, from its single thread, so the save policy decides how much
of the burst's time goes to rewriting the queue. Each policy gets a fresh mosquitto with the
generated config, only the two autosave lines changed.

    .venv/bin/python bench/broker_autosave.py [N]      # N messages, default 100000

Measured on the shared 2-core machine (N = 100,000 x 600 B, two runs): every 30 s
15,700-20,700/s (0-1 saves); every 10,000 changes 10,500-14,000/s (10 saves); every 1,000
changes 5,200-5,600/s (100 saves). The publisher (paho) is the limit in the first case.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from broker.credentials import CredentialStore
from broker.mosquitto import AUTOSAVE_INTERVAL_S, MosquittoBroker
from contract.protocol import NodeRole

PAYLOAD = b"x" * 600
OURS = f"autosave_on_changes false\nautosave_interval {AUTOSAVE_INTERVAL_S}\n"
POLICIES = {
    f"every {AUTOSAVE_INTERVAL_S} s (generated)": OURS,
    "every 10,000 changes": "autosave_on_changes true\nautosave_interval 10000\n",
    "every 1,000 changes": "autosave_on_changes true\nautosave_interval 1000\n",
}


class PolicyBroker(MosquittoBroker):
    """The generated configuration with another save policy, and no retained sweeper."""

    policy = OURS

    def _conf(self) -> str:
        conf = super()._conf()
        if OURS not in conf:  # else every policy would silently measure the generated one
            raise RuntimeError("the generated config no longer has the autosave lines")
        return conf.replace(OURS, self.policy)

    def _sweep_now_and_then(self) -> None:
        pass


def client(client_id: str, user: str, password: str, clean: bool = True) -> paho.Client:
    c = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean,
        protocol=paho.MQTTv311,
    )
    c.username_pw_set(user, password)
    return c


def away_hub(broker: MosquittoBroker, password: str) -> None:
    """A persistent hub session subscribed to alerts, then disconnected."""
    subscribed = threading.Event()
    hub = client("hub-main", "hub", password, clean=False)
    hub.on_connect = lambda c, *a: c.subscribe("vw/+/+/alert", 1)
    hub.on_subscribe = lambda *a: subscribed.set()
    hub.connect("127.0.0.1", broker.hub_port)
    hub.loop_start()
    assert subscribed.wait(10)
    hub.disconnect()
    hub.loop_stop()


def burst(broker: MosquittoBroker, password: str, n: int) -> float:
    """Seconds until the broker acknowledged ``n`` QoS 1 alerts."""
    window = threading.Semaphore(5000)  # paho keys messages by a 16-bit mid: stay well below
    done, finished, connected = [0], threading.Event(), threading.Event()

    def on_publish(*_args) -> None:
        window.release()
        done[0] += 1
        if done[0] == n:
            finished.set()

    node = client("gw-a", "gw-a", password)
    node.max_inflight_messages_set(100)
    node.on_publish = on_publish
    node.on_connect = lambda *a: connected.set()
    node.connect("127.0.0.1", broker.port)
    node.loop_start()
    assert connected.wait(10)
    start = time.monotonic()
    for _ in range(n):
        window.acquire()
        node.publish("vw/riverside/gw-a/alert", PAYLOAD, qos=1)
    if not finished.wait(300):
        raise RuntimeError(f"only {done[0]} of {n} acknowledged")
    elapsed = time.monotonic() - start
    node.disconnect()
    node.loop_stop()
    return elapsed


def run(policy: str, n: int) -> tuple[float, int]:
    folder = Path(tempfile.mkdtemp(prefix="vw-autosave-"))
    store = CredentialStore(folder / "identities.json")
    hub_password = store.add("hub", NodeRole.HUB, "riverside")
    node_password = store.add("gw-a", NodeRole.CAMERA_GATEWAY, "riverside")
    broker = PolicyBroker(folder, store)
    broker.policy = policy
    broker.start()
    try:
        away_hub(broker, hub_password)
        elapsed = burst(broker, node_password, n)
    finally:
        broker.stop()
    saves = (folder / "mosquitto.log").read_text().count("Saving in-memory database") - 1
    return elapsed, saves  # the save at exit is not part of the burst


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"{n:,} QoS 1 alerts of {len(PAYLOAD)} B queued for an offline hub session")
    for name, policy in POLICIES.items():
        elapsed, saves = run(policy, n)
        print(f"  save {name:26s} {n / elapsed:8,.0f}/s  ({elapsed:5.1f} s, {saves} saves)")


if __name__ == "__main__":
    main()
