"""Event rings end to end, all real: two cameras of a gateway running real onnxruntime on
real footage (the same clip: two views of the *same* people), their crowd ring counts in the
gateway's stats over a real mosquitto, the hub storing them and adding them up for the
event's rings. The two views are one overlap group, so the hub's core holds what one camera
counts, never twice that.

No timing is asserted: the test waits for states (the clip played, the stats stored)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest
from broker_kit import wait_until
from conftest import EXCERPT, REPO
from test_rules_config import uncommented_example

from contract.protocol import NodeRole
from contract.siteconfig import SiteConfig, parse_site_config
from edge.agent import EdgeAgent
from hub.service import HubService

pytestmark = pytest.mark.mosquitto

NODE = "gw-plaza"
RINGS = ("diversion", "control", "core")
FRAMES = 60  # 6 s of the excerpt: people walk across the plaza's rings


def clip(path: Path) -> Path:
    """The excerpt's first FRAMES frames as a small MJPG file."""
    cap = cv2.VideoCapture(str(EXCERPT))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (768, 576))
    for _ in range(FRAMES):
        ok, image = cap.read()
        assert ok
        writer.write(image)
    cap.release()
    writer.release()
    return path


def box(lat: float, lon: float, d: float) -> list[dict]:
    return [
        {"lat": lat + a * d, "lon": lon + b * d} for a, b in ((-1, -1), (-1, 1), (1, 1), (1, -1))
    ]


def two_views_config(source: Path) -> SiteConfig:
    """The example site with its example rules on, the plaza camera unpaced on ``source``,
    a second camera ``plaza-b`` identical to it, and an event on now fed by both."""
    data = uncommented_example()
    plaza = data["gateways"][0]["cameras"][0]
    plaza.update(source=str(source), realtime=False, loop=False)
    plaza.pop("zones", None), plaza.pop("lines", None), plaza.pop("loitering", None)
    plaza.pop("no_parking", None)
    twin = copy.deepcopy(plaza) | {"name": "plaza-b"}
    data["gateways"][0]["cameras"] = [plaza, twin]
    now = datetime.now(UTC)
    lat, lon = 51.485932, -0.124114
    data["events"] = [
        {
            "id": "fair",
            "name": "Village fair",
            "starts_at": (now - timedelta(hours=1)).isoformat(),
            "ends_at": (now + timedelta(hours=2)).isoformat(),
            "area": "plaza",
            "stale_after_s": 3600,  # an unpaced clip's frame times run ahead of the wall
            "rings": {
                "diversion": {"polygon": box(lat, lon, 0.0004)},
                "control": {"polygon": box(lat, lon, 0.0003)},
                "core": {"polygon": box(lat, lon, 0.0001)},
            },
            "feeds": [
                {"camera": cam, "crowd": "plaza-event", "ring": ring, "overlap": f"plaza-{ring}"}
                for cam in ("plaza", "plaza-b")
                for ring in RINGS
            ],
        }
    ]
    return parse_site_config(data, REPO / "config" / "site.example.yaml")


def test_two_views_of_the_same_people_are_counted_once(mosquitto, tmp_path: Path):
    config = two_views_config(clip(tmp_path / "clip.avi"))
    hub = HubService(config, mosquitto.connection("hub", NodeRole.HUB), tmp_path / "hub")
    hub.start()
    assert hub.wait_ready(10)
    agent = EdgeAgent(
        config, NODE, mosquitto.provision(NODE), tmp_path / "edge", stats_interval_s=0.5
    )
    agent.start()
    try:
        for p in agent.pipelines:
            assert p.drained.wait(300), f"{p.camera.name} never finished the clip"
        sent = agent.stats().cameras
        assert sent["plaza"].rings == sent["plaza-b"].rings  # the same frames, the same counts
        assert set(sent["plaza"].rings) == {f"plaza-event/{r}" for r in RINGS}

        def stored() -> bool:
            node = hub.storage.nodes.get(config.site.id, NODE)
            cams = node.stats.cameras if node and node.stats else {}
            return all(name in cams and cams[name].rings_at == sent[name].rings_at for name in sent)

        assert wait_until(stored, timeout=30), "the last counts never reached the hub"
        # While the gateway is online (stopping it says "offline": its feeds would be out).
        hub.event_security.tick()
        board = hub.event_security.dashboard(hub.event_security.get("fair"))
    finally:
        agent.stop()
        hub.stop()
    counts = sent["plaza"].rings
    for ring in board.rings:
        one_view = counts[f"plaza-event/{ring.ring}"]
        assert ring.occupancy == one_view, ring.ring  # the larger of two equal counts
        assert ring.upper == 2 * one_view  # what adding the two views would have said
        assert ring.complete
    assert sum(counts.values()) >= 1, "nobody on the plaza's rings: the clip proves nothing"
