"""``AnnotatedVideo``: the replay as a video a maintainer can watch (``replay --annotate``).

Every frame of the input is written — same size, same frame rate, OpenCV ``mp4v`` — as the
pipeline saw it (privacy masks already painted black), with:

* the rules' geometry and figures through :class:`~edge.rules.annotate.RuleAnnotator`
  (zones, lines with in/out counts, crowd rings with occupancy, the crowd heatmap overlay),
* the tracker's boxes with label, track id and score — green: confirmed and sure enough for
  the rules; yellow: confirmed but not yet sure enough; grey: not (yet) a track,
* a header line: frame index, video time, people tracked in view and what the detector did
  on this frame (``detect``, ``no motion``, ``fps cap``),
* a red border (and the event's kind and rule) for half a second after an event fired.

On frames the detector skipped, the last run's boxes are drawn dimmed (thin, darker) so the
video does not flicker between runs.

It only reads what the processor returned and draws on copies, so writing a video never
changes detections or events.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from edge.detections import Detections
from edge.processor import ProcessedFrame
from edge.rules import Rule
from edge.rules.annotate import RuleAnnotator

# BGR colours
_SURE = (80, 220, 80)
_UNSURE = (0, 220, 255)
_UNTRACKED = (160, 160, 160)
_ALARM = (0, 0, 255)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: How long (video seconds) the red border stays after an event: one frame is too short to see.
FLASH_S = 0.5


class AnnotatedVideo:
    """Writes one annotated frame per :meth:`add` call into ``path`` (an ``.mp4``)."""

    def __init__(self, path: Path, fps: float, frame_size: tuple[int, int]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot write a video to {self.path}: {exc.strerror}") from None
        self.fps = fps
        self.frame_size = frame_size
        self._writer = cv2.VideoWriter(
            str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), fps, frame_size
        )
        if not self._writer.isOpened():
            raise ValueError(f"OpenCV cannot write an mp4v video to {self.path}")
        self._rules = RuleAnnotator(objects=False)
        self._held = Detections.empty()  # the last detector run's rows
        self._held_sure: set[int] = set()  # their track ids the rules saw
        self._flash_until = -1.0
        self._flash_text = ""
        self.frames = 0

    def add(self, result: ProcessedFrame, rules: list[Rule], events: list[str]) -> None:
        """Draw ``result`` (with the processor's current ``rules``) and write it; ``events``
        are short descriptions of the events fired on this frame."""
        frame = result.frame
        t = frame.index / self.fps
        if result.detected:
            self._held = result.detections
            self._held_sure = {int(i) for i in result.confident.track_id}
        if events:
            self._flash_until = t + FLASH_S
            self._flash_text = "; ".join(events)
        image = self._rules.draw(frame.image, rules)
        self._objects(image, self._held, dimmed=not result.detected)
        if result.detected:
            doing = "detect"
        elif result.motion is not None and not result.motion.has_motion:
            doing = "no motion"
        else:
            doing = "fps cap"
        tracked = self._held[(self._held.label == "person") & (self._held.track_id >= 0)]
        header = f"frame {frame.index}  t {t:.1f} s  persons {len(tracked)}  {doing}"
        _text(image, header, (6, 6), (255, 255, 255))
        if t <= self._flash_until:
            h, w = image.shape[:2]
            cv2.rectangle(image, (0, 0), (w - 1, h - 1), _ALARM, max(4, w // 120))
            _text(image, self._flash_text[:90], (6, h - 30), _ALARM)
        if (image.shape[1], image.shape[0]) != self.frame_size:
            image = cv2.resize(image, self.frame_size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def _objects(self, image: np.ndarray, rows: Detections, dimmed: bool) -> None:
        thick = max(1, round(image.shape[1] / 400))
        for box, label, track, score in zip(
            rows.xyxy, rows.label, rows.track_id, rows.score, strict=True
        ):
            if track < 0:
                colour = _UNTRACKED
            elif int(track) in self._held_sure:
                colour = _SURE
            else:
                colour = _UNSURE
            if dimmed:
                colour = tuple(c // 2 for c in colour)
            x1, y1, x2, y2 = (round(float(v)) for v in box)
            cv2.rectangle(image, (x1, y1), (x2, y2), colour, 1 if dimmed else thick + 1)
            cv2.circle(image, ((x1 + x2) // 2, y2), thick + 1, colour, cv2.FILLED)
            text = f"{label}" + (f" #{int(track)}" if track >= 0 else "") + f" {score:.2f}"
            _text(image, text, (x1, y1 - 16), colour)

    def close(self) -> None:
        self._writer.release()

    def __enter__(self) -> AnnotatedVideo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _text(image: np.ndarray, text: str, at: tuple[int, int], colour: tuple[int, ...]) -> None:
    """Text on a black plate whose top-left corner is ``at`` (kept inside the frame)."""
    h, w = image.shape[:2]
    scale = max(0.4, w / 1600)
    (tw, th), base = cv2.getTextSize(text, _FONT, scale, 1)
    x = int(min(max(at[0], 0), max(w - tw - 2, 0)))
    y = int(min(max(at[1], 0), max(h - th - base - 2, 0)))
    cv2.rectangle(image, (x, y), (x + tw + 2, y + th + base + 2), (0, 0, 0), cv2.FILLED)
    cv2.putText(image, text, (x + 1, y + th + 1), _FONT, scale, colour, 1, cv2.LINE_AA)
