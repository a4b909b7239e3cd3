"""Request parameters several routers read the same way."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import HTTPException
from fastapi import Path as PathParam

from contract.protocol import HEX_ID_PATTERN

#: An alert or incident id in a path.
HexId = Annotated[str, PathParam(pattern=HEX_ID_PATTERN, description="32 hex digits")]


def aware(moment: datetime | None) -> datetime | None:
    """A query time in UTC; one without a zone is taken as UTC. A time at the very edge of
    the calendar whose offset takes it out of range in UTC (year 1 at +05:00) is a 422."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise HTTPException(422, "time out of range in UTC") from None
