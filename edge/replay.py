"""Replay a recorded video through the gateway's own stages, as fast as the machine allows.

Use it to tune zones and thresholds on real footage, or to check what a camera *would* have
alerted on::

    villagewatch replay footage.mp4 --out out/ --config site.yaml --camera plaza
    villagewatch replay footage.mp4 --out out/ --every-frame      # detector on every frame

It writes into ``out_dir`` (``--out``):

``detections.jsonl``
    one line per frame the detector ran on (every frame with ``--every-frame``; else the frames
    the motion gate and the fps cap let through, exactly as live):
    ``{"frame": 12, "t": 1.2, "objects": [{"label", "score", "box": [x1,y1,x2,y2], "track_id"}]}``
    where ``frame`` counts from 0 as OpenCV reads the file and ``t = frame / fps``.
``events.jsonl``
    the alerts it would publish, one protocol JSON object per line: rule hits, and camera
    health events (:mod:`edge.camera_health`, judged on the video's own time).
``snapshots/<alert_id>.jpg``
    their snapshots, privacy-filtered exactly as the gateway publishes them (masks, crop,
    faces blurred); an alert whose snapshot could not be made safe has none.
``summary.json``
    the :class:`~edge.replay_output.ReplaySummary`: frames read / detected / skipped (no
    motion, fps cap), events by kind, confirmed tracks by label, each rule's final ``state()``
    with its peaks, wall time, fps, mean inference ms. The command prints it as a table.
``heatmap.png``
    where people stood over the replay (time-decayed), over the last frame: the camera's crowd
    heatmap if it has crowd rings, else one built from the people the rules saw.
``--annotate OUT.mp4`` (optional)
    every frame with boxes, track ids, scores, rule geometry and counts, the crowd heatmap and
    a red border on events (:mod:`edge.annotated_video`). Drawing only reads the pipeline's
    results: detections and events are byte-identical with or without it.

A replay is deterministic — same file, same settings, same bytes out: time is the video's own
(event time = ``start_time + t``, by default counted from the Unix epoch), alert ids are
uuid5 of the video's hash, frame and tracks, and onnxruntime runs with fixed threads.

Without a config, the whole frame is one zone for people (every person becomes an alert,
with the usual 30 s per-track cooldown). A config camera without zones only detects.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

from contract.protocol import Alert, encode
from contract.siteconfig import Camera, SiteConfig, ZoneRule
from contract.watchlist import WatchlistUpdate
from edge.annotated_video import AnnotatedVideo
from edge.camera_health import CameraHealth, HealthEvent
from edge.capture import FrameSource
from edge.detectors import choose_model, make_detector
from edge.faces import FaceBlurrer
from edge.health_alerts import build_health_alert, health_snapshot, wants_snapshot
from edge.plate_ocr import PlateOCR
from edge.plates import PlateReader
from edge.processor import FrameProcessor, ProcessedFrame, build_alert
from edge.replay_output import ReplaySummary, ReplayTally
from edge.snapshot import make_snapshot
from edge.watchlist import WatchlistHolder

_REPLAY_NS = uuid.UUID("6f1c1f3e-5b1a-4c53-9a43-2f0b7d9a0c11")
_WHOLE_FRAME = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]


def _video_sha(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _pick_camera(config: SiteConfig, camera: str | None, video: Path) -> tuple[Camera, str]:
    """(camera, gateway node) by name, else the camera whose source is ``video``, else the first."""
    pairs = [(c, g.node) for g in config.gateways for c in g.cameras]
    if not pairs:
        raise ValueError("the config has no cameras; replay without --config to just detect")
    if camera is not None:
        for c, node in pairs:
            if c.name == camera:
                return c, node
        raise ValueError(f"no camera {camera!r} in the config; known: {[c.name for c, _ in pairs]}")
    for c, node in pairs:
        if Path(config.resolve_source(c.source)).resolve() == video.resolve():
            return c, node
    return pairs[0]


def replay(
    video: Path,
    out_dir: Path,
    config: SiteConfig | None = None,
    camera: str | None = None,
    every_frame: bool = False,
    progress: bool = True,
    *,
    start_time: datetime | None = None,
    blurrer: FaceBlurrer | None = None,
    annotate: Path | None = None,
    quiet_cells: Path | None = None,
    watchlist: WatchlistUpdate | None = None,
) -> ReplaySummary:
    """Process ``video`` and write detections, events, snapshots, ``summary.json`` and
    ``heatmap.png`` into ``out_dir``; with ``annotate``, also the annotated video at that path.

    ``quiet_cells``: a file of learned barren cells to start from and to leave behind
    (:mod:`edge.quiet_cells`), as a gateway keeps them across restarts.

    A config camera with ``plates: true`` reads plates as live; ``watchlist`` is the list
    they are matched against (none: reads only fill the alerts' vehicle objects).

    Raises ``ValueError`` when the camera's ``detect.model`` cannot see what its rules watch.
    """
    video = Path(video)
    if not video.is_file():
        raise FileNotFoundError(f"video not found: {video}")
    if config is None:
        cam = Camera(
            name="replay",
            source=str(video),
            area="replay",
            realtime=False,
            zones=[ZoneRule(name="frame", polygon=_WHOLE_FRAME, objects=["person"])],
        )
        site, node, tz = "replay", "replay", "UTC"
    else:
        cam, node = _pick_camera(config, camera, video)
        site, tz = config.site.id, config.site.timezone
    epoch = (start_time or datetime(1970, 1, 1, tzinfo=UTC)).timestamp()

    out_dir = Path(out_dir)
    snap_dir = out_dir / "snapshots"
    snap_dir.mkdir(parents=True, exist_ok=True)
    sha = _video_sha(video)
    detector = make_detector(cam.detect, choose_model(cam))
    processor = FrameProcessor(
        cam,
        detector,
        tz,
        gate_motion=not every_frame,
        cap_fps=not every_frame,
        stages=[s for s in (_plate_reader(config, cam, site, node, watchlist),) if s],
    )
    cells = processor.schedule.barren
    if quiet_cells is not None and cells is not None and Path(quiet_cells).is_file():
        cells.load(Path(quiet_cells))
    health = CameraHealth(cam.health)
    blurrer = blurrer if blurrer is not None else FaceBlurrer()
    source = FrameSource(video, realtime=False, loop=False, start_time=epoch)

    def snapshot(result: ProcessedFrame, objects, outline) -> bytes | None:
        people = result.detections[result.detections.label == "person"]
        return make_snapshot(
            result.frame.image,
            objects,
            people,
            cam.privacy,
            mask=processor.privacy_mask,
            blurrer=blurrer,
            outline=outline,
        )

    tally = ReplayTally()
    video_out: AnnotatedVideo | None = None
    fired: list[str] = []  # this frame's events, for the annotated video

    def write(alert: Alert, jpeg: bytes | None) -> None:
        if jpeg is not None:
            (snap_dir / f"{alert.id}.jpg").write_bytes(jpeg)
        ev_f.write(encode(alert).decode() + "\n")
        tally.event(alert.kind)
        fired.append(f"{alert.kind} {alert.zone or ''}".strip())

    frames = detected = alerts = 0
    inference_total = 0.0
    t0 = time.perf_counter()
    last_draw = 0.0
    with ExitStack() as files:
        det_f = files.enter_context((out_dir / "detections.jsonl").open("w"))
        ev_f = files.enter_context((out_dir / "events.jsonl").open("w"))
        for frame in source.frames():
            frames += 1
            fired.clear()
            result = processor.process(frame)
            tally.frame(result, processor.rules)
            if result.detected:
                detected += 1
                inference_total += result.inference_ms
                det_f.write(_detection_line(result, source.fps or 25.0))
            for hit in result.hits:
                tracks = ",".join(str(int(t)) for t in hit.objects.track_id)
                alert_id = uuid.uuid5(_REPLAY_NS, f"{sha}/{frame.index}/{hit.rule}/{tracks}").hex
                outline = hit.outline
                if outline is None:
                    outline = processor.zone_polygon(hit.rule)
                jpeg = snapshot(result, hit.objects, outline) if hit.snapshot else None
                alert = build_alert(
                    hit,
                    alert_id=alert_id,
                    seq=alerts,
                    site=site,
                    node=node,
                    camera=cam,
                    frame_size=frame.size,
                    has_snapshot=jpeg is not None,
                    plates=result.plates,
                )
                write(alert, jpeg)
                alerts += 1
            for event in health.observe(frame.image, frame.timestamp):
                alert_id = uuid.uuid5(_REPLAY_NS, _health_key(sha, frame.index, event)).hex
                jpeg = None
                if wants_snapshot(event):
                    jpeg = health_snapshot(
                        frame.image,
                        detector,
                        cam.privacy,
                        mask=processor.privacy_mask,
                        blurrer=blurrer,
                    )
                write(
                    build_health_alert(
                        event,
                        alert_id=alert_id,
                        seq=alerts,
                        site=site,
                        node=node,
                        camera=cam,
                        when=datetime.fromtimestamp(frame.timestamp, UTC),
                        frame_size=frame.size,
                        has_snapshot=jpeg is not None,
                    ),
                    jpeg,
                )
                alerts += 1
            if annotate is not None:
                if video_out is None:
                    video_out = AnnotatedVideo(annotate, source.fps or 25.0, frame.size)
                    files.enter_context(video_out)
                video_out.add(result, processor.rules, fired)
            now = time.perf_counter()
            if progress and now - last_draw >= 0.2:
                last_draw = now
                _draw(frames, source.frame_count, now - t0, alerts)
    seconds = time.perf_counter() - t0
    if quiet_cells is not None and cells is not None:
        cells.save(Path(quiet_cells))
    if progress:
        _draw(frames, source.frame_count, seconds, alerts)
        sys.stderr.write("\n")
    summary = ReplaySummary(
        video,
        out_dir,
        frames,
        detected,
        alerts,
        seconds,
        inference_total / detected if detected else 0.0,
        skipped_no_motion=tally.no_motion,
        skipped_fps_cap=tally.fps_cap,
        events_by_kind=dict(sorted(tally.events.items())),
        tracks_by_label=tally.tracks_by_label(),
        rules=tally.rule_states(processor.rules),
        heatmap=tally.write_heatmap(out_dir / "heatmap.png", processor.rules),
        annotated=video_out.path if video_out is not None else None,
    )
    summary.write_json(out_dir / "summary.json")
    return summary


def _plate_reader(
    config: SiteConfig | None,
    cam: Camera,
    site: str,
    node: str,
    watchlist: WatchlistUpdate | None,
) -> PlateReader | None:
    """The camera's plate stage as the gateway builds it (None unless ``plates: true``)."""
    if config is None or not cam.plates:
        return None
    holder = WatchlistHolder(site, node, "replay")
    holder.set(watchlist)
    return PlateReader(cam, config.watchlists.plates, holder, PlateOCR())


def _health_key(sha: str, frame: int, event: HealthEvent) -> str:
    return f"{sha}/{frame}/health/{event.kind}/{event.state}"


def _detection_line(result: ProcessedFrame, fps: float) -> str:
    line = {
        "frame": result.frame.index,
        "t": round(result.frame.index / fps, 4),
        "objects": [
            {
                "label": o["label"],
                "score": o["score"],
                "box": list(o["box"]),
                "track_id": o["track_id"],
            }
            for o in result.detections.to_json()
        ],
    }
    return json.dumps(line, separators=(",", ":")) + "\n"


def _draw(done: int, total: int | None, seconds: float, alerts: int) -> None:
    fps = done / seconds if seconds > 0 else 0.0
    if total:
        width = 30
        filled = min(width, round(width * done / total))
        bar = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}"
    else:
        bar = f"{done} frames"
    sys.stderr.write(f"\rreplay {bar}  {fps:5.1f} fps  {alerts} alert(s) ")
    sys.stderr.flush()
