"""The site's ``safety`` section: the safety index's weights and exposure, the hot spots, and
when the monthly report is written.

Every number here is part of the published formula (docs/safety-index.md): a site that
changes one changes its index, so the page and the report print the values in force.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contract.protocol import ID_PATTERN, KIND_PATTERN

Kind = Annotated[str, Field(pattern=KIND_PATTERN)]
AreaId = Annotated[str, Field(pattern=ID_PATTERN)]

#: How much one incident of each kind weighs in the index. Crimes against people weigh most,
#: a door left open least; crowd counts, line crossings and fire alarms are not crime and
#: weigh nothing (they stay in the statistics, not in the index).
DEFAULT_WEIGHTS: dict[str, float] = {
    "robbery": 5.0,
    "assault": 4.0,
    "burglary": 4.0,
    "fight": 3.0,
    "theft": 3.0,
    "vandalism": 2.0,
    "glass_break": 2.0,
    "panic_button": 2.0,
    "intrusion": 1.0,
    "door": 1.0,
    "window": 1.0,
    "loitering": 0.5,
    "stopped_vehicle": 0.5,
    "crowd": 0.0,
    "line_crossing": 0.0,
    "smoke": 0.0,
    "heat": 0.0,
    "water_leak": 0.0,
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReportSchedule(_Section):
    """The hub writes last month's report into ``<data_dir>/reports/`` once a month."""

    enabled: bool = True
    day: int = Field(1, ge=1, le=28, description="day of the month (site time zone)")
    hour: int = Field(6, ge=0, le=23, description="hour of that day (site time zone)")


class SafetySettings(_Section):
    weights: dict[Kind, float] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS),
        description="weight per incident kind (0: does not count); replaces the defaults",
    )
    other_weight: float = Field(
        1.0, ge=0, le=100, description="weight of a security incident of a kind not listed"
    )
    households: dict[AreaId, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict, description="households per area: the index's exposure"
    )
    default_households: int = Field(
        100, ge=1, description="exposure of an area not in households (shown as assumed)"
    )
    rate_reference: float = Field(
        10.0,
        gt=0,
        description="weighted incidents per 1,000 households per month at which the "
        "incident component is 50",
    )
    response_weight: float = Field(
        0.3, ge=0, le=1, description="share of the response component in the index"
    )
    response_target_s: int = Field(300, ge=1, description="alert to arrival: full marks")
    response_limit_s: int = Field(1200, ge=2, description="alert to arrival: no marks")
    smoothing: float = Field(
        0.5, gt=0, le=1, description="exponential smoothing factor per month (1: none)"
    )
    history_months: int = Field(12, ge=1, le=60, description="months the smoothing reads")
    start_month: str | None = Field(
        None,
        pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
        description="first month the index covers, e.g. 2026-01 (default: the month of "
        "the first counted incident)",
    )
    hotspot_weeks: int = Field(12, ge=1, le=104, description="weeks of history for hot spots")
    hotspot_top: int = Field(10, ge=1, le=168, description="hot spots listed")
    report: ReportSchedule = ReportSchedule()

    @model_validator(mode="after")
    def _sane(self) -> SafetySettings:
        if self.response_limit_s <= self.response_target_s:
            raise ValueError("response_limit_s must be above response_target_s")
        bad = sorted(k for k, w in self.weights.items() if not 0 <= w <= 100)
        if bad:
            raise ValueError(f"weights must be 0..100 (never negative): {bad}")
        return self

    def weight(self, kind: str) -> float:
        """The weight of one incident of ``kind``."""
        return self.weights.get(kind, self.other_weight)

    def households_of(self, area: str) -> tuple[int, bool]:
        """``(households, configured)`` of an area."""
        if area in self.households:
            return self.households[area], True
        return self.default_households, False


def check_safety_areas(settings: SafetySettings, area_ids: set[str]) -> None:
    """Households may only be given for areas the site file has."""
    unknown = sorted(set(settings.households) - area_ids)
    if unknown:
        known = sorted(area_ids)
        raise ValueError(f"safety.households names unknown areas {unknown}; known: {known}")
