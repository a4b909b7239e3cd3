"""Web Push: wake an officer's browser or phone even when the officer page is closed.

The hub signs each push with its VAPID key (RFC 8292) and encrypts the payload for the
browser (RFC 8291, ``aes128gcm``); :mod:`pywebpush` does both. The browser vendor's push
service (Mozilla, Google, Apple) carries it, so Web Push needs the hub to reach the internet:
a site without it keeps the in-page alarm only.

The VAPID key pair is made on first start and kept in the hub's data folder (``vapid.pem``,
mode 0600); browsers subscribe with its public half (``GET /api/push/key``). A new key
would orphan every subscription, so it is never rotated silently.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from hub.domain.notifications import Message
from hub.notify.base import Notifier, NotifierError, NotifierSetup, PermanentFailure
from hub.storage.notifications import PushSubscriptionRepository

log = logging.getLogger(__name__)

VAPID_FILE = "vapid.pem"
#: Push services refuse payloads over 4 KiB; the body is cut to stay well inside.
MAX_PUSH_BODY_CHARS = 1000


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class VapidKeys:
    """The hub's VAPID key pair (P-256)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self.private_key = private_key
        self.signer = Vapid02(private_key=private_key)

    @classmethod
    def load_or_create(cls, data_dir: Path) -> VapidKeys:
        """The key in ``data_dir/vapid.pem``, made (owner-only) if there is none yet."""
        path = Path(data_dir) / VAPID_FILE
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{path}: not an elliptic-curve (P-256) private key")
            return cls(key)
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: two hubs starting on one folder must not overwrite each other's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        log.info("made a new VAPID key for Web Push: %s", path)
        return cls(key)

    @property
    def public_key(self) -> str:
        """The ``applicationServerKey`` browsers subscribe with: base64url, uncompressed."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(point)


def push_payload(message: Message) -> str:
    """The JSON the hub's service worker receives (decrypted) in its ``push`` event."""
    return json.dumps(
        {
            "title": message.title,
            "body": message.body[:MAX_PUSH_BODY_CHARS],
            "incident_id": message.incident_id,
            "severity": message.severity,
            "tier": message.tier,
            "url": message.url,
        }
    )


class WebPushNotifier(Notifier):
    """Targets are push subscription ids (as text); a gone subscription is deleted."""

    channel = "webpush"

    def __init__(
        self,
        subscriptions: PushSubscriptionRepository,
        keys: VapidKeys,
        subject: str,
        timeout_s: float = 15.0,
        ttl_s: int = 3600,
        session: requests.Session | None = None,
    ) -> None:
        """``ttl_s``: how long the push service keeps a message for a phone that is off.
        ``session``: the HTTP session used (a test passes one trusting its own CA)."""
        self.subscriptions = subscriptions
        self.keys = keys
        self.subject = subject
        self.timeout_s = timeout_s
        self.ttl_s = ttl_s
        self.session = session or requests.Session()

    @classmethod
    def create(cls, setup: NotifierSetup) -> WebPushNotifier | None:
        if not setup.web_push.enabled:
            return None
        keys = VapidKeys.load_or_create(setup.data_dir)
        return cls(setup.storage.push_subscriptions, keys, setup.web_push.subject, setup.timeout_s)

    def send(self, message: Message, target: str) -> None:
        subscription = self.subscriptions.get(int(target))
        if subscription is None:
            raise PermanentFailure("the subscription was removed")
        try:
            webpush(
                subscription_info={
                    "endpoint": subscription.endpoint,
                    "keys": {"p256dh": subscription.keys.p256dh, "auth": subscription.keys.auth},
                },
                data=push_payload(message),
                vapid_private_key=self.keys.signer,
                vapid_claims={"sub": self.subject},  # fresh dict: webpush() adds aud and exp
                content_encoding="aes128gcm",
                timeout=self.timeout_s,
                ttl=self.ttl_s,
                headers={"Urgency": "high"},
                requests_session=self.session,
            )
        except WebPushException as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status in (404, 410):
                # RFC 8030: the subscription expired or the user revoked it; never again.
                self.subscriptions.delete_id(subscription.id)
                raise PermanentFailure(
                    f"push service answered {status}: subscription gone, deleted"
                ) from exc
            raise NotifierError(f"push service answered {status}: {exc}") from exc
        except requests.RequestException as exc:
            raise NotifierError(f"push service unreachable: {exc}") from exc

    def describe(self, target: str) -> str:
        """``alice's browser 12``: whom a delivery woke, for the supervisors' list."""
        subscription = self.subscriptions.get(int(target))
        owner = f"{subscription.username}'s" if subscription else "a removed"
        return f"{owner} browser {target}"
