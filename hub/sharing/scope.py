"""What a department may read: the datasets, departments and the scope a token carries.

A *grant* is one scoped token given to one department account under one agreement. It
names the datasets, the areas and the period of data (``data_from`` .. ``data_until``) the
holder may read, when the token expires, and how many requests a minute it may make.
:func:`check` is the one place a request is held against its grant; every refusal says why,
so the department's developer can tell "expired" from "not your area" without asking.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contract.protocol import ID_PATTERN


class Department(StrEnum):
    URBAN_MANAGEMENT = "urban_management"
    TRAFFIC = "traffic"
    FIRE = "fire"
    RESIDENTS_COMMITTEE = "residents_committee"
    OTHER = "other"


class Dataset(StrEnum):
    """The aggregates that may leave."""

    INCIDENT_COUNTS = "incident_counts"  # security incidents per area, hour and kind
    ALERT_COUNTS = "alert_counts"  # camera and sensor alerts per area, hour and kind
    HOT_SPOTS = "hot_spots"  # per area and hour of the week, from published incident cells
    AREAS = "areas"  # the areas' outlines and middles from the site file (GeoJSON)
    SAFETY_INDEX = "safety_index"  # per area (and site) per month, value only (hub.safety)
    OCCUPANCY = "occupancy"  # event rings per hour: peak and mean people (hub.events_security)


#: The datasets made of hourly count cells (k-anonymity applies, period applies).
COUNT_DATASETS = (Dataset.INCIDENT_COUNTS, Dataset.ALERT_COUNTS)


class AccountRequest(BaseModel):
    """A department account (the API's body); tokens are issued to it afterwards."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=100, description="e.g. District fire brigade")
    department: Department
    contact: str | None = Field(None, max_length=200, description="who to call about it")


class GrantRequest(BaseModel):
    """What an admin asks for when issuing a token (the API's body)."""

    model_config = ConfigDict(extra="forbid")

    account_id: str = Field(pattern=ID_PATTERN)
    agreement: str = Field(
        min_length=3, max_length=200, description="the data-sharing agreement's reference"
    )
    datasets: list[Dataset] = Field(min_length=1)
    areas: list[str] = Field(min_length=1, description="area ids of the site file")
    data_from: AwareDatetime = Field(description="the earliest data the token may read")
    data_until: AwareDatetime = Field(description="the latest data (exclusive) it may read")
    expires_at: AwareDatetime = Field(description="after this the token reads nothing")
    rate_per_min: int | None = Field(None, ge=1, le=6000)


class Grant(BaseModel):
    """A token's scope as stored (never the token itself: only its hash is kept)."""

    model_config = ConfigDict(frozen=True)

    id: str
    account_id: str
    agreement: str
    datasets: tuple[Dataset, ...]
    areas: tuple[str, ...]
    data_from: datetime
    data_until: datetime
    expires_at: datetime
    rate_per_min: int
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    last_used_at: datetime | None = None
    uses: int = 0


class Refused(Exception):
    """A request outside its grant: ``status`` (401, 403 or 429) and a reason to show."""

    def __init__(self, status: int, reason: str, retry_after_s: int | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.retry_after_s = retry_after_s


def check(
    grant: Grant,
    now: datetime,
    dataset: Dataset,
    areas: list[str],
    start: datetime | None,
    end: datetime | None,
) -> None:
    """Raise :class:`Refused` (403) unless ``grant`` covers reading ``dataset`` for
    ``areas`` over [start, end) at ``now``. A period is checked only for datasets that
    have one (the area outlines do not)."""
    if grant.revoked_at is not None:
        raise Refused(403, f"token revoked at {grant.revoked_at.isoformat()}")
    if now >= grant.expires_at:
        raise Refused(403, f"token expired at {grant.expires_at.isoformat()}")
    if dataset not in grant.datasets:
        raise Refused(403, f"dataset {dataset.value!r} is not in this token's scope")
    outside = sorted(set(areas) - set(grant.areas))
    if outside:
        raise Refused(403, f"area(s) {', '.join(outside)} not in this token's scope")
    has_period = start is not None and end is not None
    if has_period and (start < grant.data_from or end > grant.data_until):
        raise Refused(
            403,
            f"period outside this token's scope ({grant.data_from.isoformat()}"
            f" .. {grant.data_until.isoformat()})",
        )
