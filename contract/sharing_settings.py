"""The ``hub.sharing`` section of the site file: how data is shared with other departments.

Departments (urban management, traffic, fire, the residents' committee) read *aggregates*
through scoped tokens (:mod:`hub.sharing`). This section holds the site-wide rules an admin
cannot loosen per token: the k of k-anonymity, and the bounds of what a token may be given.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SharingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    k: int = Field(
        5,
        ge=2,
        le=1000,
        description="k-anonymity: a count below k (and above 0) is never published",
    )
    default_rate_per_min: int = Field(
        60, ge=1, le=6000, description="requests a minute a new token may make, unless set"
    )
    max_rate_per_min: int = Field(
        600, ge=1, le=6000, description="the most requests a minute any token may be given"
    )
    max_token_days: int = Field(
        366, ge=1, le=3660, description="a token expires at most this many days after issue"
    )
    max_query_days: int = Field(
        92, ge=1, le=400, description="the longest period one request may read (hourly cells)"
    )
