"""Replay of the committed excerpt: deterministic files, the promised line format, snapshots."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXCERPT, REPO

from contract.protocol import Alert, check_snapshot
from contract.siteconfig import load_site_config
from edge.replay import ReplaySummary, main, replay

EXCERPT_FRAMES = 200
EXCERPT_FPS = 10.0


@pytest.fixture(scope="module")
def lawn_runs(tmp_path_factory) -> tuple[ReplaySummary, ReplaySummary]:
    """The excerpt replayed twice with the example site's lawn zone (default: motion-gated)."""
    config = load_site_config(REPO / "config" / "site.example.yaml")
    runs = []
    for name in ("first", "second"):
        out = tmp_path_factory.mktemp(name)
        runs.append(replay(EXCERPT, out, config, camera="plaza", progress=False))
    return runs[0], runs[1]


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_replaying_twice_gives_identical_files(lawn_runs):
    first, second = lawn_runs
    for name in ("detections.jsonl", "events.jsonl"):
        assert (first.out_dir / name).read_bytes() == (second.out_dir / name).read_bytes(), name
    shots = sorted(p.name for p in (first.out_dir / "snapshots").iterdir())
    assert shots == sorted(p.name for p in (second.out_dir / "snapshots").iterdir())


def test_detection_lines_have_the_promised_format(lawn_runs):
    summary = lawn_runs[0]
    rows = lines(summary.out_dir / "detections.jsonl")
    assert summary.frames == EXCERPT_FRAMES
    assert len(rows) == summary.detected_frames
    # Motion gate + 5 fps cap on 10 fps footage: at most every other frame is detected.
    assert 0 < len(rows) <= EXCERPT_FRAMES // 2 + 1
    frames = [r["frame"] for r in rows]
    assert frames == sorted(set(frames)) and frames[-1] < EXCERPT_FRAMES
    for row in rows:
        assert set(row) == {"frame", "t", "objects"}
        assert row["t"] == pytest.approx(row["frame"] / EXCERPT_FPS)
        for obj in row["objects"]:
            assert set(obj) == {"label", "score", "box", "track_id"}
            assert obj["label"] in {"person", "bicycle", "car", "motorcycle", "bus", "truck"}
            x1, y1, x2, y2 = obj["box"]
            assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 576
            assert obj["track_id"] is None or obj["track_id"] >= 1
    people = sum(o["label"] == "person" for r in rows for o in r["objects"])
    assert people / len(rows) > 3  # 4 to 8 people walk through every frame of the excerpt


def test_events_are_protocol_alerts_with_their_snapshots(lawn_runs):
    summary = lawn_runs[0]
    events = [Alert.model_validate(e) for e in lines(summary.out_dir / "events.jsonl")]
    assert len(events) == summary.alerts >= 2  # at least the two people crossing the lawn
    assert [e.seq for e in events] == list(range(len(events)))
    assert len({e.id for e in events}) == len(events)
    for e in events:
        assert (e.site, e.node, e.camera, e.area, e.zone) == (
            "riverside",
            "gw-plaza",
            "plaza",
            "plaza",
            "lawn",
        )
        assert e.kind == "intrusion" and e.has_snapshot and e.frame_size == (768, 576)
        assert e.objects and all(o.label == "person" and o.track_id for o in e.objects)
        # Event time is the video's own time (from the epoch), never the wall clock.
        assert 0 <= e.ts.timestamp() < EXCERPT_FRAMES / EXCERPT_FPS
        check_snapshot((summary.out_dir / "snapshots" / f"{e.id}.jpg").read_bytes())


def test_every_frame_runs_the_detector_on_all_200_frames(tmp_path: Path, capsys):
    assert main([str(EXCERPT), str(tmp_path), "--every-frame", "--no-progress"]) == 0
    rows = lines(tmp_path / "detections.jsonl")
    assert [r["frame"] for r in rows] == list(range(EXCERPT_FRAMES))
    # No config: the whole frame is a person zone, so people walking in raise alerts.
    assert lines(tmp_path / "events.jsonl")
    assert "200 frames" in capsys.readouterr().out


def test_a_missing_video_is_a_clear_error(tmp_path: Path, capsys):
    assert main([str(tmp_path / "nope.mp4"), str(tmp_path / "out")]) == 2
    assert "video not found" in capsys.readouterr().err
