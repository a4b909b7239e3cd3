"""A count compared with another period's: the percentage, and always the counts behind it.

"Thefts down 20 %" is only worth saying when enough thefts happened for chance not to
explain it. The events behind a change are this period's plus the other period's; under
``min_events`` (``hub.statistics.min_events_to_compare``) the change says ``too_few`` and
carries no percentage, only the two counts. When the other period had none, there is no
percentage either (anything over zero is "infinitely" more): ``none_before``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Status = Literal["compared", "too_few", "none_before"]


class CountChange(BaseModel):
    """This period's count against another's."""

    current: int = Field(description="events in this period")
    other: int = Field(description="events in the period compared with")
    change: int = Field(description="current - other")
    change_pct: float | None = Field(
        description="change / other * 100, one decimal; null unless status is compared"
    )
    status: Status = Field(
        description="compared; too_few: fewer events in both periods together than"
        " min_events_to_compare; none_before: the other period had none"
    )


def count_change(current: int, other: int, min_events: int) -> CountChange:
    """Compare ``current`` with ``other`` (see the module's docstring for the rules)."""
    status: Status
    pct = None
    if current + other < min_events:
        status = "too_few"
    elif other == 0:
        status = "none_before"
    else:
        status = "compared"
        pct = round((current - other) / other * 100, 1)
    return CountChange(
        current=current, other=other, change=current - other, change_pct=pct, status=status
    )
