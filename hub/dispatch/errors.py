"""What the dispatch service refuses, each with the HTTP status the API answers."""

from __future__ import annotations


class DispatchError(Exception):
    status = 400


class UnitNotFound(DispatchError):
    status = 404


class AssignmentNotFound(DispatchError):
    status = 404


class NotYourUnit(DispatchError):
    """A patrol acting for a unit it is not a member of."""

    status = 403


class DispatchConflict(DispatchError):
    """The unit is busy, the step does not fit the state, someone acted in between."""

    status = 409


class InvalidDispatch(DispatchError):
    """Input that is well-formed but unacceptable (unknown member, a time in the future)."""

    status = 422


class PositionRefused(DispatchError):
    """A position that is not stored; ``reason`` is a stable word for clients and logs."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.status = status
        self.reason = reason
