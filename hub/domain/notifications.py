"""Telling people: messages, their deliveries (with every attempt), and Web Push subscriptions.

A :class:`Message` is what someone should read (an incident opened, an incident waiting too
long). Each person or address it goes to is one :class:`Delivery` on one *channel*
(``webpush``, ``apprise`` ...): stored first, sent later by the notification worker, retried
with backoff, and kept with every :class:`DeliveryAttempt`, so a supervisor can see who was
told what, when, and why a message did not arrive.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contract.protocol import Severity

#: The longest push endpoint accepted (browsers' are a few hundred characters).
MAX_ENDPOINT_LENGTH = 2048


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # not tried yet
    SENT = "sent"  # the channel accepted it
    FAILED = "failed"  # the last attempt failed; another is scheduled (next_attempt_at)
    GAVE_UP = "gave_up"  # no more attempts: too many failures, or one that cannot recover


class Message(_Record):
    """What one notification says, the same on every channel."""

    title: str = Field(max_length=200)
    body: str = Field(max_length=2000)
    incident_id: str | None = None
    severity: Severity | None = None
    tier: int | None = Field(None, description="0: the duty desk; 1, 2 ...: escalation tiers")
    url: str | None = Field(None, description="where the officer page shows it (a path)")


class Delivery(_Record):
    """One message to one target on one channel, and how sending it went."""

    id: int
    channel: str = Field(description="webpush, apprise ...")
    target: str = Field(
        description="who, as shown to people: a push subscription id, or an apprise URL with"
        " its password or token masked"
    )
    incident_id: str | None = None
    title: str
    body: str
    severity: Severity | None = None
    tier: int | None = None
    url: str | None = None
    status: DeliveryStatus
    attempts: int = 0
    next_attempt_at: datetime | None = Field(None, description="null once sent or given up")
    last_error: str | None = None
    created_at: datetime
    sent_at: datetime | None = None

    @property
    def message(self) -> Message:
        return Message(
            title=self.title,
            body=self.body,
            incident_id=self.incident_id,
            severity=self.severity,
            tier=self.tier,
            url=self.url,
        )


class DeliveryAttempt(_Record):
    """One try at sending a delivery."""

    delivery_id: int
    number: int = Field(description="1 for the first attempt")
    at: datetime
    ok: bool
    error: str | None = None
    duration_ms: int


def _b64url(value: str, length: int, what: str) -> str:
    """``value`` if it is unpadded-or-padded base64url of exactly ``length`` bytes."""
    if len(value) > 200 or not value.replace("-", "").replace("_", "").rstrip("=").isalnum():
        raise ValueError(f"{what} must be base64url")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} must be base64url") from exc
    if len(raw) != length:
        raise ValueError(f"{what} must encode {length} bytes, not {len(raw)}")
    return value


class PushKeys(_Record):
    """The browser's half of Web Push encryption (RFC 8291)."""

    p256dh: str = Field(description="the browser's P-256 public key, uncompressed, base64url")
    auth: str = Field(description="16-byte authentication secret, base64url")

    @field_validator("p256dh")
    @classmethod
    def _point(cls, value: str) -> str:
        _b64url(value, 65, "keys.p256dh")
        if base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))[0] != 4:
            raise ValueError("keys.p256dh must be an uncompressed P-256 point (0x04 ...)")
        return value

    @field_validator("auth")
    @classmethod
    def _secret(cls, value: str) -> str:
        return _b64url(value, 16, "keys.auth")


class PushSubscriptionRequest(_Record):
    """What the browser's ``PushManager.subscribe()`` gives, as the page posts it."""

    endpoint: str = Field(max_length=MAX_ENDPOINT_LENGTH)
    keys: PushKeys

    @field_validator("endpoint")
    @classmethod
    def _https(cls, value: str) -> str:
        # Push services are https; anything else would make the hub post to arbitrary hosts.
        if not value.startswith("https://") or len(value) <= len("https://"):
            raise ValueError("endpoint must be an https:// URL")
        if any(c.isspace() for c in value):
            raise ValueError("endpoint must not contain spaces")
        return value


class PushSubscription(_Record):
    """One browser of one user that asked to be woken for incidents."""

    id: int
    username: str
    endpoint: str
    keys: PushKeys
    created_at: datetime
