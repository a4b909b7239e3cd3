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
from edge.replay import ReplaySummary, replay

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
    from villagewatch.cli import main as cli_main

    args = ["replay", str(EXCERPT), "--out", str(tmp_path), "--every-frame", "--quiet"]
    assert cli_main(args) == 0
    rows = lines(tmp_path / "detections.jsonl")
    assert [r["frame"] for r in rows] == list(range(EXCERPT_FRAMES))
    # No config: the whole frame is a person zone, so people walking in raise alerts.
    assert lines(tmp_path / "events.jsonl")
    assert "200 frames" in capsys.readouterr().out


def test_a_missing_video_is_a_clear_error(tmp_path: Path, capsys):
    from villagewatch.cli import main as cli_main

    assert cli_main(["replay", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "out")]) == 2
    assert "video file not found" in capsys.readouterr().err


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


# --- replay for maintainers: annotated video, summary, heatmap --------------------------------


@pytest.fixture(scope="module")
def annotated_run(tmp_path_factory) -> ReplaySummary:
    """The excerpt replayed like ``lawn_runs`` but with ``annotate``."""
    config = load_site_config(REPO / "config" / "site.example.yaml")
    out = tmp_path_factory.mktemp("annotated")
    return replay(
        EXCERPT, out, config, camera="plaza", progress=False, annotate=out / "video" / "lawn.mp4"
    )


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    assert cap.isOpened(), path
    fps = cap.get(cv2.CAP_PROP_FPS)
    images = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        images.append(image)
    cap.release()
    return images, fps


def test_the_annotated_video_has_every_input_frame_at_its_size_and_rate(annotated_run):
    assert annotated_run.annotated == annotated_run.out_dir / "video" / "lawn.mp4"
    images, fps = read_video(annotated_run.annotated)
    assert len(images) == EXCERPT_FRAMES
    assert fps == pytest.approx(EXCERPT_FPS)
    assert {im.shape for im in images} == {(576, 768, 3)}


def test_a_tracked_person_is_drawn_around_in_the_annotated_video(annotated_run):
    rows = lines(annotated_run.out_dir / "detections.jsonl")
    row = next(r for r in rows[len(rows) // 2 :] if any(o["track_id"] for o in r["objects"]))
    person = next(o for o in row["objects"] if o["track_id"])
    source, _ = read_video(EXCERPT)
    drawn, _ = read_video(annotated_run.annotated)
    before = source[row["frame"]].astype(int)
    after = drawn[row["frame"]].astype(int)
    x1, y1, _, y2 = (round(v) for v in person["box"])
    # The box's left edge is painted over; the building's windows, far from any box or
    # label, are only touched by the codec.
    edge = np.abs(
        after[y1 + 5 : y2 - 5, max(x1 - 1, 0) : x1 + 2]
        - before[y1 + 5 : y2 - 5, max(x1 - 1, 0) : x1 + 2]
    )
    assert edge.mean() > 40, edge.mean()
    untouched = np.abs(after[60:100, 330:560] - before[60:100, 330:560])
    assert untouched.mean() < 10, untouched.mean()


def test_annotating_changes_no_detection_or_event(annotated_run, lawn_runs):
    plain = lawn_runs[0]
    for name in ("detections.jsonl", "events.jsonl"):
        assert (annotated_run.out_dir / name).read_bytes() == (plain.out_dir / name).read_bytes()
    assert plain.annotated is None


def test_the_summary_file_counts_what_the_output_files_hold(lawn_runs):
    summary = lawn_runs[0]
    data = json.loads((summary.out_dir / "summary.json").read_text())
    assert {
        "frames",
        "detected_frames",
        "skipped_no_motion",
        "skipped_fps_cap",
        "alerts",
        "events_by_kind",
        "tracks_by_label",
        "seconds",
        "fps",
        "inference_ms",
        "rules",
        "heatmap",
    } <= set(data)
    events = lines(summary.out_dir / "events.jsonl")
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    assert data["events_by_kind"] == kinds and data["alerts"] == len(events)
    rows = lines(summary.out_dir / "detections.jsonl")
    assert data["frames"] == EXCERPT_FRAMES and data["detected_frames"] == len(rows)
    assert data["detected_frames"] + data["skipped_no_motion"] + data["skipped_fps_cap"] == (
        EXCERPT_FRAMES
    )
    tracks: dict[str, set[int]] = {}
    for o in (o for r in rows for o in r["objects"] if o["track_id"]):
        tracks.setdefault(o["label"], set()).add(o["track_id"])
    assert data["tracks_by_label"] == {label: len(ids) for label, ids in tracks.items()}
    assert data["tracks_by_label"]["person"] >= 5
    lawn = data["rules"]["lawn"]
    assert lawn["kind"] == "intrusion" and lawn["alerts"] == kinds["intrusion"]
    assert lawn["peak_inside"] >= 1  # someone crossed the lawn: that is the alert
    table = summary.table()
    assert "skipped: fps cap" in table and "intrusion" in table and "rule lawn" in table


def test_the_heatmap_is_hot_where_people_stood_and_cold_elsewhere(lawn_runs):
    summary = lawn_runs[0]
    heat = cv2.imdecode(
        np.frombuffer(summary.heatmap.read_bytes(), np.uint8), cv2.IMREAD_COLOR
    ).astype(int)
    last = read_video(EXCERPT)[0][-1].astype(int)
    assert heat.shape == last.shape  # over the last frame, at its size
    change = np.abs(heat - last).sum(axis=2)
    # Cold areas show the scene unchanged: the building (top 15% of the frame) nobody stood on.
    assert change[: 576 * 15 // 100].max() < 30
    # The hottest spot is at someone's feet (within a few heatmap cells).
    rows = lines(summary.out_dir / "detections.jsonl")
    feet = np.array(
        [
            ((o["box"][0] + o["box"][2]) / 2, o["box"][3])
            for r in rows
            for o in r["objects"]
            if o["track_id"]
        ]
    )
    y, x = np.unravel_index(np.argmax(change), change.shape)
    assert np.hypot(feet[:, 0] - x, feet[:, 1] - y).min() < 24


def test_crowd_rings_and_lines_report_their_counts_and_draw_the_crowd_heatmap(tmp_path: Path):
    from test_rules_config import uncommented_example

    from contract.siteconfig import parse_site_config

    config = parse_site_config(uncommented_example(), REPO / "config" / "site.example.yaml")
    clip = excerpt_slice(tmp_path / "clip.avi", 40)
    summary = replay(clip, tmp_path / "out", config, camera="plaza", progress=False)
    rules = summary.rules
    assert [rules[n]["kind"] for n in ("lawn", "path-west", "plaza-event")] == [
        "intrusion",
        "line_crossing",
        "crowd",
    ]
    assert {"in", "out"} <= set(rules["path-west"])
    rings = rules["plaza-event"]["rings"]
    assert set(rings) == {"diversion", "control", "core"}
    assert max(r["peak"] for r in rings.values()) >= 1  # people walk across the plaza
    assert rules["plaza-event"]["heat_person_s"] > 0
    assert summary.heatmap is not None and summary.heatmap.stat().st_size > 1000


def excerpt_slice(path: Path, frames: int) -> Path:
    """The first ``frames`` frames of the excerpt, as a small MJPG file."""
    cap = cv2.VideoCapture(str(EXCERPT))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), EXCERPT_FPS, (768, 576))
    for _ in range(frames):
        ok, image = cap.read()
        assert ok
        writer.write(image)
    cap.release()
    writer.release()
    return path


def test_the_replay_command_writes_the_annotated_video_and_prints_the_table(tmp_path: Path, capsys):
    from villagewatch.cli import main as cli_main

    clip = excerpt_slice(tmp_path / "clip.avi", 40)
    out, video = tmp_path / "out", tmp_path / "annotated.mp4"
    code = cli_main(["replay", str(clip), "--out", str(out), "--annotate", str(video), "--quiet"])
    assert code == 0
    images, _ = read_video(video)
    assert len(images) == 40 and images[0].shape == (576, 768, 3)
    printed = capsys.readouterr().out
    assert "40 frames" in printed and "annotated video" in printed and str(video) in printed
    data = json.loads((out / "summary.json").read_text())
    assert data["frames"] == 40 and data["annotated"] == str(video)
    assert (out / "heatmap.png").is_file()


def test_an_unwritable_annotated_video_is_a_clear_error(tmp_path: Path, capsys):
    from villagewatch.cli import main as cli_main

    clip = excerpt_slice(tmp_path / "clip.avi", 5)
    (tmp_path / "file").write_text("not a folder")
    bad = tmp_path / "file" / "video.mp4"
    code = cli_main(["replay", str(clip), "--out", str(tmp_path / "out"), "--annotate", str(bad)])
    assert code == 2
    assert "error:" in capsys.readouterr().err
