"""Per-camera settings that are more than a few fields: privacy and camera health.

They live in ``contract`` because the site file (:mod:`contract.siteconfig`) embeds them in
``Camera``; the edge modules that act on them (:mod:`edge.privacy`,
:mod:`edge.camera_health`) import them from here.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

Point = tuple[Annotated[float, Field(ge=0.0, le=1.0)], Annotated[float, Field(ge=0.0, le=1.0)]]


def polygon_area(poly: list[Point]) -> float:
    """Unsigned area in frame fractions squared (shoelace formula)."""
    pairs = zip(poly, poly[1:] + poly[:1], strict=True)
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairs)) / 2


def _has_area(poly: list[Point]) -> list[Point]:
    if polygon_area(poly) < 1e-6:
        raise ValueError("has no area (its points are on one line); spread them out")
    return poly


#: A polygon in frame fractions: at least three points that enclose some area.
Polygon = Annotated[
    list[Point],
    Field(min_length=3, description="[[x, y], ...] as frame fractions"),
    AfterValidator(_has_area),
]


class PrivacySettings(BaseModel):
    """Per-camera privacy: what is blanked, blurred and cropped before a snapshot is stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    blur_faces: bool = Field(
        True, description="blur every face found in stored and published snapshots"
    )
    blur_heads_fallback: bool = Field(
        True,
        description="also blur the head (top ~18%) of every person box in which no face was "
        "found; the face detector misses small and turned-away faces",
    )
    masks: list[Polygon] = Field(
        default_factory=list,
        description="polygons [[x, y], ...] in frame fractions blanked black before detection "
        "and in every snapshot (e.g. a neighbour's window)",
    )
    crop: bool = Field(True, description="crop snapshots to the triggering objects plus context")
    crop_context: float = Field(
        0.5,
        ge=0.0,
        le=5.0,
        description="context kept around each object, as a fraction of its size",
    )


class HealthSettings(BaseModel):
    """Thresholds and hold times of the camera health checks (``Camera.health`` in a site file).

    Grey levels are 0..255 on a small grey copy of the frame; fractions are of the frame.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="watch this camera's health at all")
    check_interval_s: float = Field(
        1.0, gt=0, le=60, description="measure the picture at most this often"
    )
    frame_width: int = Field(160, ge=64, le=640, description="measure on a grey copy this wide")
    warmup_s: float = Field(
        20.0, ge=0, le=3600, description="learn the camera's normal view for this long first"
    )
    lost_after_s: float = Field(20.0, gt=0, le=3600, description="no frame this long: lost")
    frozen_after_s: float = Field(
        30.0, gt=0, le=3600, description="identical pictures this long: frozen"
    )
    raise_after_s: float = Field(
        10.0, ge=0, le=3600, description="covered or blinded this long before an alert"
    )
    view_raise_after_s: float = Field(
        30.0, ge=0, le=3600, description="defocused or moved this long before an alert"
    )
    clear_after_s: float = Field(
        30.0, ge=0, le=3600, description="a condition must be gone this long to clear"
    )
    min_contrast: float = Field(
        10.0, ge=0, le=128, description="grey-level std below which the picture is blank"
    )
    blown_out_share: float = Field(
        0.5, gt=0, le=1, description="share of near-white pixels that means blinded"
    )
    defocus_ratio: float = Field(
        0.5, gt=0, lt=1, description="sharpness below this share of normal: defocused"
    )
    moved_shift: float = Field(
        0.04, gt=0, lt=1, description="view shift (fraction of width) that means moved"
    )
    moved_match: float = Field(
        0.7, gt=0, lt=1, description="view match below this share of normal: moved"
    )
    reference_half_life_s: float = Field(
        600.0, gt=0, description="how slowly the reference view follows a healthy scene"
    )
