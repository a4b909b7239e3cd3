"""Rendered number plates on real footage, for the plate tests and benches.

No package we can install ships real plate photos with a licence that lets us use them (see
``bench/plate_accuracy.py``), so plates are **rendered**: the text drawn with a real CJK font
(Debian ``fonts-wqy-microhei``, installed at CI set-up by ``.ci/system-packages``; never
committed) on a plate-coloured board with a border, then degraded with perspective (angle),
blur and sensor noise. The vehicle under it is real: the parked van of OpenCV's ``vtest.avi``
(Debian ``opencv-doc``), upscaled, because at 83x59 px in the original no plate on it could be
read by anything.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tests.footage import opencv_sample, read_frames

FONT_PATHS = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
#: The van in vtest.avi frame 0 (x1, y1, x2, y2), as CenterNet finds it ("truck").
VAN_BOX = (640, 40, 723, 99)
#: Board colours (background, text): mainland blue, mainland new-energy green, EU white.
STYLES = {"blue": ((180, 70, 20), (255, 255, 255)), "green": ((120, 200, 120), (0, 0, 0))}
STYLES["white"] = ((235, 235, 235), (20, 20, 20))


def font_path() -> Path:
    for path in FONT_PATHS:
        if path.is_file():
            return path
    raise FileNotFoundError(
        "no CJK font for rendering plates: apt-get install fonts-wqy-microhei "
        "(.ci/system-packages installs it)"
    )


def render_plate(text: str, height: int = 44, style: str = "blue") -> np.ndarray:
    """A clean BGR plate board with ``text`` on it, ``height`` px high, about 3.2:1."""
    board, ink = STYLES[style]
    scale = 4  # draw large, shrink with area averaging: smooth edges like a real photo
    h = height * scale
    font = ImageFont.truetype(str(font_path()), int(h * 0.72))
    left, top, right, bottom = font.getbbox(text)
    w = max(int(h * 3.2), right - left + h // 2)
    img = Image.new("RGB", (w, h), board[::-1])
    draw = ImageDraw.Draw(img)
    draw.rectangle((scale, scale, w - 1 - scale, h - 1 - scale), outline=ink[::-1], width=scale)
    draw.text(
        ((w - (right - left)) // 2 - left, (h - (bottom - top)) // 2 - top),
        text,
        font=font,
        fill=ink[::-1],
    )
    bgr = cv2.cvtColor(np.asarray(img), cv2.COLOR_RGB2BGR)
    return cv2.resize(bgr, (w // scale, height), interpolation=cv2.INTER_AREA)


@dataclass(frozen=True)
class Degrade:
    """How a rendered plate is spoilt: yaw-like shear (degrees), Gaussian blur sigma (px),
    horizontal motion blur length (px), noise sigma (grey levels), JPEG quality."""

    angle: float = 0.0
    blur: float = 0.0
    motion: int = 0
    noise: float = 0.0
    jpeg: int = 90

    @classmethod
    def random(cls, rng: random.Random) -> Degrade:
        return cls(
            angle=rng.uniform(-20, 20),
            blur=rng.uniform(0.0, 1.6),
            motion=rng.choice([0, 0, 0, 3, 5, 7]),
            noise=rng.uniform(0, 12),
            jpeg=rng.randint(40, 90),
        )


def degrade(plate: np.ndarray, how: Degrade, rng: random.Random) -> np.ndarray:
    """``plate`` seen at an angle, out of focus, moving and noisy (on a grey surround)."""
    h, w = plate.shape[:2]
    pad = h
    canvas = np.full((h + 2 * pad, w + 2 * pad, 3), 90, np.uint8)
    canvas[pad : pad + h, pad : pad + w] = plate
    t = np.tan(np.radians(how.angle))
    src = np.float32([[pad, pad], [pad + w, pad], [pad + w, pad + h], [pad, pad + h]])
    dy = t * h * 0.6  # one side nearer the camera looks taller
    dst = src + np.float32([[0, -dy / 2], [0, dy / 2], [0, -dy / 2], [0, dy / 2]])
    dst[:, 0] = (dst[:, 0] - (pad + w / 2)) * np.cos(np.radians(how.angle)) + pad + w / 2
    out = cv2.warpPerspective(canvas, cv2.getPerspectiveTransform(src, dst), canvas.shape[1::-1])
    if how.blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), how.blur)
    if how.motion > 1:
        kernel = np.zeros((how.motion, how.motion), np.float32)
        kernel[how.motion // 2, :] = 1.0 / how.motion
        out = cv2.filter2D(out, -1, kernel)
    if how.noise > 0:
        noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0, how.noise, out.shape)
        out = np.clip(out.astype(np.float32) + noise, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, how.jpeg])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def vtest_frame(index: int = 0) -> np.ndarray:
    path = opencv_sample("vtest.avi")
    if path is None:
        raise FileNotFoundError("vtest.avi (Debian opencv-doc) is not available")
    return read_frames(path, {index})[index]


def van_scene(
    plate: np.ndarray | None,
    frame: np.ndarray,
    at: tuple[int, int] = (260, 250),
    zoom: float = 4.0,
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """``frame`` with the vtest van pasted near the camera (``zoom`` times its size, top-left
    at ``at``), ``plate`` on its lower middle; returns the image and the van's box."""
    x1, y1, x2, y2 = VAN_BOX
    van = cv2.resize(frame[y1:y2, x1:x2], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
    out = frame.copy()
    ax, ay = at
    vh, vw = van.shape[:2]
    out[ay : ay + vh, ax : ax + vw] = van
    if plate is not None:
        ph, pw = plate.shape[:2]
        px, py = ax + (vw - pw) // 2, ay + vh - ph - vh // 10
        out[py : py + ph, px : px + pw] = plate
    return out, (float(ax), float(ay), float(ax + vw), float(ay + vh))
