"""Request parameters several routers read the same way."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException


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
