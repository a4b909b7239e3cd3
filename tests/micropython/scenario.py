"""Run by real MicroPython (its WebAssembly port, tests/micropython/run.mjs), not by pytest.

Every node type on plain MicroPython objects: a pin, a millisecond clock, a state folder.
Each is tripped, its enclosure opened, its broker found away (the port has no sockets: the
stand-in ``umqtt.simple`` refuses to connect), and then it loses power: a new node object
from the same folder must hold both alerts. Prints one ``RESULT {json}`` line for the test
to check against contract.protocol."""

import json
import os

from firmware_stubs.node_types import NODE_TYPES, make_node


class Pin:
    def __init__(self, level):
        self.level = level

    def value(self, level=None):
        if level is not None:
            self.level = level
        return self.level


class Clock:
    def __init__(self):
        self.now = 1000000

    def __call__(self):
        return self.now


def settle(node, clock, pin, level, hold_ms):
    pin.value(level)
    node.poll()
    clock.now += hold_ms
    node.poll()


def trip(node, clock, pin):
    active = node.input.active
    hold = node.DEBOUNCE_MS + getattr(node, "LONG_PRESS_MS", 0)
    for _ in range(getattr(node, "PULSES", 1)):
        settle(node, clock, pin, active, hold)
        node.poll()
        settle(node, clock, pin, 1 - active, node.DEBOUNCE_MS)
        clock.now += 100


def run(kind):
    cls = NODE_TYPES[kind]
    clock, pin, lid = Clock(), Pin(1 - cls.ACTIVE), Pin(0)
    folder = "/state/" + kind
    os.mkdir(folder)
    cfg = {"site": "riverside", "node": "mp-node", "area": "plaza", "kind": kind}
    cfg.update({"host": "127.0.0.1", "port": 1883, "username": "mp-node", "password": "x"})
    node = make_node(cfg, pin, lid, folder, clock=clock)
    trip(node, clock, pin)
    settle(node, clock, lid, 1, 200)
    sent = node.flush()  # the broker is away: nothing sent, nothing lost
    again = make_node(cfg, pin, lid, folder, clock=clock)  # the power cut
    return {"sent": sent, "queued": again.queued(), "beat": node.heartbeat()}


print("RESULT " + json.dumps({kind: run(kind) for kind in sorted(NODE_TYPES)}))
