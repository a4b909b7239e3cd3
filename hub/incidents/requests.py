"""What people and other systems send to open or change an incident (the API bodies).

Every field has a limit; unknown fields are refused, so a typo is a 422, not silently lost.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from contract.protocol import KIND_PATTERN, Severity
from hub.domain.incidents import Action, Caller, Location, Outcome, Source

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NewIncident(_Body):
    """An incident reported by a phone call to the duty desk or by another system."""

    source: Literal[Source.CALL, Source.EXTERNAL]
    # The same shape as an alert's kind, so reports can group calls with alerts.
    kind: str = Field(pattern=KIND_PATTERN, description="what happened: burglary, fight ...")
    severity: Severity
    title: Annotated[Text, Field(max_length=120)]
    description: Annotated[Text, Field(max_length=4000)] | None = Field(
        None, description="kept as the incident's first note"
    )
    caller: Caller | None = None
    location: Location
    external_ref: Annotated[Text, Field(max_length=64)] | None = Field(
        None, description="the other system's own reference"
    )

    @model_validator(mode="after")
    def _somewhere(self) -> NewIncident:
        where = self.location
        if (where.lat is None) != (where.lon is None):
            raise ValueError("a point needs both lat and lon")
        if where.area is None and where.lat is None and not where.address:
            raise ValueError("say where: an area, a point (lat, lon) or an address")
        return self


class TransitionRequest(_Body):
    action: Action
    note: Annotated[Text, Field(max_length=1000)] | None = None
    outcome: Outcome | None = Field(None, description="how it ended; needed to resolve")


class NoteRequest(_Body):
    text: Annotated[Text, Field(max_length=4000)]
