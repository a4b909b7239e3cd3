"""``MqttLink.offer``: a live frame is dropped, not queued, while the link is backed up.

A camera's live view sends frames that are worthless once a newer one exists. When the
broker stops reading (here: mosquitto frozen with SIGSTOP), paho would keep every frame in
its memory until the link recovers; ``offer`` refuses once a few packets wait, and sends
again when the link drains."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from broker_kit import BrokerUnderTest, start_broker, wait_until

from contract.mqtt import MqttLink
from contract.protocol import NodeRole

FRAME = b"\xff\xd8" + os.urandom(256 * 1024) + b"\xff\xd9"  # a 256 KiB "JPEG"


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[BrokerUnderTest]:
    running = start_broker("mosquitto", tmp_path / "broker")
    running.add("gw-a", NodeRole.CAMERA_GATEWAY)
    yield running
    process = running.broker.process
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGCONT)
    running.shutdown()


def test_frames_offered_to_a_frozen_broker_are_dropped_not_queued(broker):
    link = MqttLink(broker.link_settings("gw-a"))
    link.start()
    try:
        assert link.wait_connected(10)
        topic = "vw/riverside/gw-a/live/plaza"
        assert link.offer(topic, FRAME)  # a healthy link sends
        process = broker.broker.process
        assert process is not None
        process.send_signal(signal.SIGSTOP)  # the broker stops reading: buffers fill
        accepted = sum(link.offer(topic, FRAME, max_waiting=4) for _ in range(400))
        # 100 MB offered; what the kernel's socket buffers hold plus 5 waiting frames
        # was accepted, the rest dropped, and paho holds no more than that.
        assert accepted < 400, accepted
        assert len(link._client._out_packet) <= 5
        process.send_signal(signal.SIGCONT)
        assert wait_until(lambda: link.offer(topic, FRAME, max_waiting=0)), "never drained"
    finally:
        link.stop(announce_offline=False)
