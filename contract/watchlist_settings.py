"""The site's ``watchlists`` section: plate reading and face recognition, and their limits.

Both are personal data, so both start off. Plate reading runs only on cameras with
``plates: true`` (the entrance camera, not the playground), and a plate that is on no list is
kept only inside the alert it belongs to unless ``plates.logging`` states a purpose and a
retention. Face recognition needs ``faces.enabled`` here, ``signage_confirmed`` on the camera
and a lawful :class:`~contract.watchlist.Authorisation` covering that camera now; without all
three the face stage is not even built.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlateLogging(_Section):
    """Keeping every plate read, not only listed ones: needs a stated purpose and a limit."""

    purpose: str = Field(min_length=10, max_length=300, description="why reads are kept")
    retention_days: int = Field(ge=1, le=90, description="reads older than this are deleted")


class PlateSettings(_Section):
    min_confidence: float = Field(
        0.80, ge=0.0, le=1.0, description="OCR confidence a read needs to count"
    )
    fuzzy_min_score: float = Field(
        0.75, ge=0.0, le=1.0, description="a fuzzy match below this is no match"
    )
    logging: PlateLogging | None = Field(None, description="off unless a purpose is stated")
    # When the gateway's plate stage (edge/plates.py) tries to read a vehicle's plate.
    min_box_height: int = Field(
        60, ge=16, le=2000, description="vehicle box height (px) before a read is tried"
    )
    min_sharpness: float = Field(
        20.0, ge=0.0, description="variance of the Laplacian of the plate area, below = blurred"
    )
    max_attempts: int = Field(3, ge=1, le=20, description="OCR runs per vehicle track at most")
    max_reads_per_s: float = Field(
        2.0, gt=0.0, le=50.0, description="OCR runs per second per camera at most"
    )


class FaceSettings(_Section):
    enabled: bool = Field(
        False, description="face recognition at all (also needs an authorisation and signage)"
    )
    match_threshold: float = Field(
        0.60, ge=0.0, le=1.0, description="cosine similarity a candidate match needs"
    )


class WatchlistSettings(_Section):
    plates: PlateSettings = PlateSettings()
    faces: FaceSettings = FaceSettings()
