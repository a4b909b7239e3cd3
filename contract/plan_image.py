"""What a site-plan image is and how large it is, read from its own bytes (PNG, JPEG, SVG).

The map places the plan by pixels (control points) and the config check needs the plan's size
to say whether a position falls on it. Pillow would do this but is not a dependency, and the
three headers are short and fixed (PNG: IHDR; JPEG: the first SOF marker; SVG: the root's
width/height or viewBox), so they are read here.
"""

from __future__ import annotations

import re
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

#: A plan larger than this is refused: phones download it and keep it offline.
MAX_PLAN_BYTES = 20 * 1024 * 1024

MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "svg": "image/svg+xml"}
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


@dataclass(frozen=True)
class PlanImage:
    """A plan image file: its kind (png, jpeg, svg) and its size in pixels."""

    path: Path
    kind: str
    width: float
    height: float

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]


def read_plan(path: Path) -> PlanImage:
    """The plan at ``path``; ``ValueError`` saying what is wrong (missing, too large, not a
    PNG/JPEG/SVG, no size)."""
    try:
        size = path.stat().st_size
    except OSError:
        raise ValueError(f"file not found: {path}") from None
    if size > MAX_PLAN_BYTES:
        raise ValueError(f"{path} is {size} bytes; a plan may be at most {MAX_PLAN_BYTES}")
    data = path.read_bytes()
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        width, height = struct.unpack(">II", data[16:24])
        return PlanImage(path, "png", width, height)
    if data.startswith(b"\xff\xd8"):
        return PlanImage(path, "jpeg", *_jpeg_size(data, path))
    if b"<svg" in data[:4096]:
        return PlanImage(path, "svg", *_svg_size(data, path))
    raise ValueError(f"{path} is not a PNG, JPEG or SVG image")


def _jpeg_size(data: bytes, path: Path) -> tuple[int, int]:
    i = 2
    while i + 9 < len(data):
        if data[i] != 0xFF:
            break
        marker = data[i + 1]
        length = struct.unpack(">H", data[i + 2 : i + 4])[0]
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[i + 5 : i + 9])
            if width and height:
                return width, height
        i += 2 + length
    raise ValueError(f"{path}: a JPEG without a readable size")


def _svg_size(data: bytes, path: Path) -> tuple[float, float]:
    if b"<!ENTITY" in data:  # no entity expansion (billion laughs) in a file we parse
        raise ValueError(f"{path}: an SVG plan may not declare XML entities")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not valid SVG ({exc})") from None
    if not root.tag.endswith("svg"):
        raise ValueError(f"{path}: the root element is not <svg>")
    box = [float(v) for v in re.split(r"[\s,]+", root.get("viewBox", "").strip()) if v]
    width, height = _length(root.get("width")), _length(root.get("height"))
    if (width is None or height is None) and len(box) == 4:
        width, height = box[2], box[3]
    if not width or not height or width <= 0 or height <= 0:
        raise ValueError(f"{path}: an SVG plan needs width and height (or a viewBox)")
    return width, height


def _length(value: str | None) -> float | None:
    match = re.fullmatch(r"\s*([0-9.]+)\s*(px)?\s*", value or "")
    return float(match.group(1)) if match else None
