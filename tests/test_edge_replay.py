"""Replay of real footage: deterministic files, the promised line format, privacy-filtered
snapshots, people counted as a human counts them, none invented in a tree, health events."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import EXCERPT, REPO

from contract.protocol import Alert, check_snapshot
from contract.siteconfig import SiteConfig, load_site_config
from edge.replay import ReplaySummary, main, replay

EXCERPT_FRAMES = 200
EXCERPT_FPS = 10.0
#: People in excerpt frames, counted by hand (as in tests/test_edge_detector.py).
LABELLED_PEOPLE = {50: 5, 100: 6, 150: 6, 199: 8}


def example_site(**detect) -> SiteConfig:
    """The example site with its camera's ``detect`` settings changed."""
    config = load_site_config(REPO / "config" / "site.example.yaml")
    gateway = config.gateways[0]
    cam = gateway.cameras[0]
    cam = cam.model_copy(update={"detect": cam.detect.model_copy(update=detect)})
    return config.model_copy(update={"gateways": [gateway.model_copy(update={"cameras": [cam]})]})


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
    # The couple crossing the lawn together is one event: grouped into one alert (issue 3).
    assert len(events) == summary.alerts >= 1
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
        jpeg = (summary.out_dir / "snapshots" / f"{e.id}.jpg").read_bytes()
        check_snapshot(jpeg)
        # Stored as published: cropped to the intruder plus context (faces blurred), never
        # the whole frame.
        image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        assert image.shape[1] < 768 and image.shape[0] < 576


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


@pytest.fixture(scope="module", params=["ssdlite", "centernet"])
def every_frame(request, tmp_path_factory) -> dict[int, list[dict]]:
    """``replay --every-frame`` of the excerpt with each model; detection lines by frame."""
    out = tmp_path_factory.mktemp(f"every-{request.param}")
    config = example_site(model=request.param)
    replay(EXCERPT, out, config, camera="plaza", every_frame=True, progress=False)
    return {row["frame"]: row["objects"] for row in lines(out / "detections.jsonl")}


@pytest.mark.parametrize("index", sorted(LABELLED_PEOPLE))
def test_every_frame_output_counts_the_people_a_human_counts_within_one(every_frame, index):
    tracked = [o for o in every_frame[index] if o["label"] == "person" and o["track_id"]]
    assert abs(len(tracked) - LABELLED_PEOPLE[index]) <= 1, every_frame[index]


def test_a_tree_in_the_wind_raises_no_person_alert(tree_clip, tmp_path: Path):
    # No config: the whole frame is a person zone, so any "person" seen would alert.
    summary = replay(tree_clip, tmp_path, progress=False)
    assert summary.frames == 68
    assert summary.detected_frames > 0  # the branches move: the detector did look
    events = [Alert.model_validate(e) for e in lines(tmp_path / "events.jsonl")]
    assert not [e for e in events if any(o.label == "person" for o in e.objects)]
    assert summary.alerts == 0


def test_a_covered_lens_in_a_recording_is_a_health_event_on_video_time(tmp_path: Path):
    video = tmp_path / "covered.avi"
    cap = cv2.VideoCapture(str(EXCERPT))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (384, 288))
    for _ in range(80):  # 8 s of the plaza
        ok, image = cap.read()
        assert ok
        writer.write(cv2.resize(image, (384, 288), interpolation=cv2.INTER_AREA))
    cap.release()
    for _ in range(130):  # then 13 s of a hand over the lens
        writer.write(np.full((288, 384, 3), 12, np.uint8))
    writer.release()

    replay(video, tmp_path / "out", progress=False)
    events = [Alert.model_validate(e) for e in lines(tmp_path / "out" / "events.jsonl")]
    covered = [e for e in events if e.kind == "lens_covered"]
    assert len(covered) == 1, [e.kind for e in events]
    alert = covered[0]
    assert alert.camera == "replay" and alert.severity == "major" and not alert.has_snapshot
    # Raised once the lens had been covered for the hold time (10 s), in the video's time.
    assert 18.0 <= alert.ts.timestamp() <= 20.0


def test_a_camera_knocked_sideways_is_a_health_alert_with_a_blurred_view_of_it(tmp_path: Path):
    video = tmp_path / "knocked.avi"
    cap = cv2.VideoCapture(str(EXCERPT))
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (640, 480))
    for i in range(EXCERPT_FRAMES):
        ok, image = cap.read()
        assert ok
        x = 64 if i < 100 else 64 + 51  # after 10 s the view jumps 8% of its width
        writer.write(np.ascontiguousarray(image[48:528, x : x + 640]))
    cap.release()
    writer.release()
    config = load_site_config(REPO / "config" / "site.example.yaml")
    gateway = config.gateways[0]
    health = gateway.cameras[0].health.model_copy(
        update={"warmup_s": 5.0, "view_raise_after_s": 4.0}
    )
    cam = gateway.cameras[0].model_copy(update={"health": health, "source": str(video)})
    config = config.model_copy(update={"gateways": [gateway.model_copy(update={"cameras": [cam]})]})

    replay(video, tmp_path / "out", config, progress=False)
    events = [Alert.model_validate(e) for e in lines(tmp_path / "out" / "events.jsonl")]
    moved = [e for e in events if e.kind == "camera_moved"]
    assert len(moved) == 1, [e.kind for e in events]
    alert = moved[0]
    assert 14.0 <= alert.ts.timestamp() <= 16.0 and "moved" in alert.message
    assert alert.has_snapshot and alert.frame_size == (640, 480)
    jpeg = (tmp_path / "out" / "snapshots" / f"{alert.id}.jpg").read_bytes()
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[:2] == (480, 640)  # the whole new view, not a crop
