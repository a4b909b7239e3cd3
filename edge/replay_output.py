"""What a replay reports at its end: the :class:`ReplaySummary` (printed as a table and written
as ``summary.json``) and the heatmap of where people stood (``heatmap.png``).

:class:`ReplayTally` is fed every processed frame and every event during the replay and
turns into the summary at the end. It only reads, so it cannot change the replay's outputs.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.processor import ProcessedFrame
from edge.rules import CrowdRings, Heatmap, Rule


@dataclass(frozen=True)
class ReplaySummary:
    """Figures of one replay. ``seconds``, ``fps`` and ``inference_ms`` are wall-clock
    measurements (they vary run to run); everything else is deterministic."""

    video: Path
    out_dir: Path
    frames: int  # frames read from the file
    detected_frames: int  # frames the detector ran on (= lines in detections.jsonl)
    alerts: int  # lines in events.jsonl
    seconds: float  # wall time of the whole replay
    inference_ms: float  # mean detector latency per run
    skipped_no_motion: int = 0  # frames the motion gate found still
    skipped_fps_cap: int = 0  # frames with motion the fps cap (detect schedule) passed over
    events_by_kind: dict[str, int] = field(default_factory=dict)
    #: Distinct tracks the tracker confirmed (track id assigned), per label.
    tracks_by_label: dict[str, int] = field(default_factory=dict)
    #: Each rule's final ``state()`` by rule name (line counts, ring occupancy and peaks ...).
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    heatmap: Path | None = None  # heatmap.png, None when no frame was read
    annotated: Path | None = None  # the --annotate video, if written

    @property
    def fps(self) -> float:
        """Frames of video processed per wall-clock second."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def table(self) -> str:
        """A human summary, as the command line prints it (first line: the one-line gist)."""
        rows = [
            (
                f"{self.frames} frames in {self.seconds:.1f} s ({self.fps:.1f} fps); detector ran "
                f"on {self.detected_frames} ({self.inference_ms:.0f} ms each); "
                f"{self.alerts} alert(s) -> {self.out_dir}"
            ),
            f"  {'frames read':<26}{self.frames}",
            f"  {'  detector ran':<26}{self.detected_frames}",
            f"  {'  skipped: no motion':<26}{self.skipped_no_motion}",
            f"  {'  skipped: fps cap':<26}{self.skipped_fps_cap}",
            f"  {'wall time':<26}{self.seconds:.1f} s ({self.fps:.1f} fps)",
            f"  {'mean inference':<26}{self.inference_ms:.1f} ms",
            f"  {'events':<26}{self.alerts}",
        ]
        rows += [f"  {'  ' + kind:<26}{n}" for kind, n in sorted(self.events_by_kind.items())]
        rows.append(f"  {'confirmed tracks':<26}{sum(self.tracks_by_label.values())}")
        rows += [f"  {'  ' + label:<26}{n}" for label, n in sorted(self.tracks_by_label.items())]
        for name, state in self.rules.items():
            rows.append(f"  {'rule ' + name:<26}{_rule_figures(state)}")
        if self.heatmap is not None:
            rows.append(f"  {'heatmap':<26}{self.heatmap}")
        if self.annotated is not None:
            rows.append(f"  {'annotated video':<26}{self.annotated}")
        return "\n".join(rows)

    def to_json(self) -> dict[str, Any]:
        """The summary as plain JSON (what ``summary.json`` holds), ``fps`` included."""
        data = asdict(self)
        for key in ("video", "out_dir", "heatmap", "annotated"):
            data[key] = None if data[key] is None else str(data[key])
        data["fps"] = round(self.fps, 2)
        data["seconds"] = round(self.seconds, 3)
        data["inference_ms"] = round(self.inference_ms, 2)
        return data

    def write_json(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2, default=str) + "\n")


def _rule_figures(state: dict[str, Any]) -> str:
    """The one or two figures of a rule's state worth a table cell."""
    kind = state.get("kind")
    if kind == "line_crossing":
        text = f"in {state['in']} / out {state['out']}"
    elif kind == "crowd":
        text = ", ".join(
            f"{name} peak {ring.get('peak', ring['occupancy'])}"
            + (f"/{ring['limit']}" if ring["limit"] else "")
            for name, ring in state["rings"].items()
        )
    elif kind == "loitering":
        text = f"longest dwell {state.get('peak_dwell_s', state['max_dwell_s']):.0f} s"
    elif kind == "intrusion":
        text = f"peak inside {state.get('peak_inside', state['inside'])}"
    else:
        text = kind or ""
    return f"{text}; {state.get('alerts', 0)} alert(s)"


class ReplayTally:
    """Counts a replay as it goes: skipped frames, tracks, events, rule peaks, the heatmap.

    The heatmap is the camera's first crowd rule's (what the live gateway keeps) when it has
    one; otherwise one of its own, fed the people the rules saw on each detector run.
    """

    def __init__(self) -> None:
        self.no_motion = 0
        self.fps_cap = 0
        self.events: Counter[str] = Counter()
        self._tracks: dict[str, set[int]] = {}
        self._peaks: dict[tuple[str, str], float] = {}
        self._heatmap: Heatmap | None = None
        self.last_image: np.ndarray | None = None

    def frame(self, result: ProcessedFrame, rules: list[Rule]) -> None:
        """Count one processed frame (after the processor updated ``rules``)."""
        self.last_image = result.frame.image
        if not result.detected:
            if result.motion is not None and not result.motion.has_motion:
                self.no_motion += 1
            else:
                self.fps_cap += 1
            return
        rows = result.detections[result.detections.track_id >= 0]
        for label, track in zip(rows.label, rows.track_id, strict=True):
            self._tracks.setdefault(str(label), set()).add(int(track))
        for rule in rules:
            self._peak_of(rule)
        if not any(isinstance(r, CrowdRings) for r in rules):
            if self._heatmap is None or self._heatmap.frame_size != result.frame.size:
                self._heatmap = Heatmap(result.frame.size)
            people = result.confident[result.confident.label == "person"]
            self._heatmap.add(people.feet, result.frame.timestamp)

    def _peak_of(self, rule: Rule) -> None:
        state = rule.state()
        figures: dict[str, float] = {}
        if state.get("kind") == "crowd":
            figures = {name: ring["occupancy"] for name, ring in state["rings"].items()}
        elif state.get("kind") == "intrusion":
            figures = {"": state["inside"]}
        elif state.get("kind") == "loitering":
            figures = {"": state["max_dwell_s"]}
        for key, value in figures.items():
            k = (rule.name, key)
            self._peaks[k] = max(self._peaks.get(k, 0), value)

    def event(self, kind: str) -> None:
        self.events[kind] += 1

    def tracks_by_label(self) -> dict[str, int]:
        return {label: len(ids) for label, ids in sorted(self._tracks.items())}

    def rule_states(self, rules: list[Rule]) -> dict[str, dict[str, Any]]:
        """Each rule's final ``state()`` plus the peaks seen over the replay:
        ``peak`` per crowd ring, ``peak_inside`` per zone, ``peak_dwell_s`` per loitering zone."""
        states = {}
        for rule in rules:
            state = json.loads(json.dumps(rule.state(), default=str))  # a plain-JSON copy
            kind = state.get("kind")
            if kind == "crowd":
                for name, ring in state["rings"].items():
                    ring["peak"] = int(self._peaks.get((rule.name, name), 0))
            elif kind == "intrusion":
                state["peak_inside"] = int(self._peaks.get((rule.name, ""), 0))
            elif kind == "loitering":
                state["peak_dwell_s"] = float(self._peaks.get((rule.name, ""), 0.0))
            states[rule.name] = state
        return states

    def heatmap(self, rules: list[Rule]) -> Heatmap | None:
        crowd = next((r for r in rules if isinstance(r, CrowdRings)), None)
        return crowd.heatmap if crowd is not None else self._heatmap

    def write_heatmap(self, path: Path, rules: list[Rule]) -> Path | None:
        """``heatmap.png`` over the last frame; None when no frame was read.

        A replay where the detector never ran (or saw nobody) still gets a picture: the last
        frame without heat, so the file is always there when frames were."""
        if self.last_image is None:
            return None
        heat = self.heatmap(rules)
        if heat is None:
            h, w = self.last_image.shape[:2]
            heat = Heatmap((w, h))
        Path(path).write_bytes(heat.render_png(background=self.last_image))
        return Path(path)
