"""What can go wrong when working on incidents, each an HTTP status for the API to send."""

from __future__ import annotations

from hub.domain.incidents import IllegalTransition
from hub.storage.incidents import IdempotencyKeyReused, StaleIncident


class IncidentNotFound(LookupError):
    """No incident with that id (HTTP 404)."""


class AttachmentNotFound(LookupError):
    """No attachment with that id on that incident (HTTP 404)."""


class InvalidIncidentRequest(ValueError):
    """Well-formed but not acceptable: an unknown area, an outcome without resolve (422)."""


class AttachmentTooLarge(ValueError):
    """Over the size limit (HTTP 413)."""


class UnsupportedAttachment(ValueError):
    """Not a JPEG or PNG, whatever it claims to be (HTTP 415)."""


__all__ = [
    "AttachmentNotFound",
    "AttachmentTooLarge",
    "IdempotencyKeyReused",
    "IllegalTransition",
    "IncidentNotFound",
    "InvalidIncidentRequest",
    "StaleIncident",
    "UnsupportedAttachment",
]
