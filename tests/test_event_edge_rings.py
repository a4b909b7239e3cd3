"""The gateway's side of event security: a camera's crowd ring counts go into its stats
(``CameraStats.rings`` keyed ``rule/ring``, with the frame time), and survive the wire."""

from __future__ import annotations

from datetime import UTC, datetime

from contract.protocol import (
    DEFAULT_TOPIC_ROOT,
    NodeStats,
    decode,
    encode,
    parse_topic,
    stats_topic,
)
from contract.rule_settings import CrowdRule, Ring
from edge.camera_stats import PipelineStats, ring_counts
from edge.detections import Detections
from edge.rules import CrowdRings

FRAME = (800, 600)
WHEN = datetime(2026, 12, 2, 21, 0, 5, tzinfo=UTC)


def rect(x1: float, y1: float, x2: float, y2: float) -> list[tuple[float, float]]:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def people(*feet: tuple[float, float]) -> Detections:
    """People 100 px tall standing at ``feet`` (pixels)."""
    boxes = [(x - 20, y - 100, x + 20, y) for x, y in feet]
    return Detections.from_arrays(boxes, [0.9] * len(feet), ["person"] * len(feet))


def test_ring_counts_are_reported_per_rule_and_ring_with_the_frame_time():
    stage = CrowdRings(
        CrowdRule(
            name="stage",
            control=Ring(polygon=rect(0.1, 0.1, 0.9, 0.9)),
            core=Ring(polygon=rect(0.4, 0.4, 0.6, 0.6), limit=10),
        ),
        FRAME,
    )
    # Before the first detector frame there is nothing to report.
    assert ring_counts([stage]) == ({}, None)
    # Feet at (400, 300) are in the core; (100, 100) and (700, 500) in the control band;
    # (10, 10) outside both.
    stage.evaluate(people((400, 300), (100, 100), (700, 500), (10, 10)), WHEN)
    counts, at = ring_counts([stage])
    assert counts == {"stage/control": 2, "stage/core": 1}
    assert at == WHEN

    stats = PipelineStats(clock=lambda: 100.0)
    stats.connected = True
    message = NodeStats(
        site="riverside", node="gw-square", ts=WHEN, uptime_s=5,
        cameras={"north": stats.snapshot(counts, at)},
    )  # fmt: skip
    topic = parse_topic(stats_topic(DEFAULT_TOPIC_ROOT, "riverside", "gw-square"))
    back = decode(topic, encode(message))
    assert back.cameras["north"].rings == {"stage/control": 2, "stage/core": 1}
    assert back.cameras["north"].rings_at == WHEN


def test_a_camera_without_crowd_rules_reports_no_rings():
    stats = PipelineStats(clock=lambda: 100.0).snapshot(*ring_counts([]))
    assert stats.rings == {} and stats.rings_at is None
