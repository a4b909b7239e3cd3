"""Real footage for tests and benchmarks: OpenCV's sample clips from Debian's opencv-doc.

The committed excerpt (``config/footage/``) covers the demo and most tests. The full
``vtest.avi`` (795 frames) and ``tree.avi`` (a tree in wind, no people) come from the Debian
package ``opencv-doc`` through the package manager, cached under ``.cache/opencv-doc``.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import tempfile
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
CACHE = REPO / ".cache" / "opencv-doc"
INSTALLED = Path("/usr/share/doc/opencv-doc/examples/data")
SHA256 = {
    "vtest.avi": "45cddc9490be69345cbdab64ca583be65987e864ca408038e648db99e10516cf",
    "tree.avi": "4666099d0f704e310047b2f0a5ec9f936cb76a7271de9a2e70a0c57f82ac82dc",
}


def read_frames(path: Path, indices: set[int]) -> dict[int, np.ndarray]:
    """The frames at ``indices`` (0-based, as OpenCV reads the file)."""
    cap = cv2.VideoCapture(str(path))
    frames, i = {}, 0
    while len(frames) < len(indices):
        ok, image = cap.read()
        assert ok, f"{path} ended before frame {max(indices)}"
        if i in indices:
            frames[i] = image
        i += 1
    cap.release()
    return frames


def read_clip(path: Path, default_fps: float = 10.0) -> tuple[list[np.ndarray], float]:
    """Every frame of a clip, and its frame rate (``default_fps`` when the file has none)."""
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or default_fps
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames, fps


def opencv_sample(name: str) -> Path | None:
    """Path to an opencv-doc sample clip, fetching the package once if needed; None if it
    cannot be had (no apt-get, no registry)."""
    for folder in (CACHE, INSTALLED):
        if (folder / name).exists():
            return folder / name
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        download = ["apt-get", "download", "opencv-doc"]
        got = subprocess.run(download, cwd=tmp, capture_output=True, timeout=600)
        if got.returncode != 0:  # a fresh machine may have no package lists yet
            subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
            got = subprocess.run(download, cwd=tmp, capture_output=True, timeout=600)
        debs = glob.glob(f"{tmp}/opencv-doc_*.deb")
        if got.returncode != 0 or not debs:
            return None
        subprocess.run(["dpkg", "-x", debs[0], f"{tmp}/x"], check=True, timeout=300)
        data = Path(tmp) / "x" / "usr/share/doc/opencv-doc/examples/data"
        CACHE.mkdir(parents=True, exist_ok=True)
        for clip in SHA256:
            if (data / clip).exists():
                shutil.copy(data / clip, CACHE / clip)
    return CACHE / name if (CACHE / name).exists() else None
