"""The ``hub.statistics`` section of the site file: how the statistics page compares periods.

A percentage computed on a handful of events says more about chance than about the village
("burglaries up 100 %" when 2 became 4). Below :attr:`StatisticsSettings.min_events_to_compare`
events behind a change, the hub says "too few to compare" and shows only the counts.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class StatisticsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_events_to_compare: int = Field(
        10,
        ge=1,
        le=100_000,
        description="a change computed on fewer events (both periods together) shows no"
        " percentage, only the counts: 'too few to compare'",
    )
