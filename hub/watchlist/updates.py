"""What each gateway is sent: one :class:`~contract.watchlist.WatchlistUpdate` per gateway.

The rule is the guardrail: a gateway gets

* every plate entry that has not expired (plates are read on any camera with ``plates``);
* a face entry only when the site has face recognition on, its authorisation is in force or
  still to come (not ended, not expired) **and** covers one of this gateway's cameras that
  has its signs up (``signage_confirmed``) — never a face to a gateway outside the scope;
* the authorisations those faces are matched under, so the gateway checks them itself.

Pure functions of the state and the clock: the publisher (:mod:`hub.watchlist.publisher`)
sends them, the service measures them before it accepts a change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from contract.siteconfig import Gateway, SiteConfig
from contract.watchlist import (
    Authorisation,
    FaceEntry,
    PlateEntry,
    WatchlistUpdate,
    encode_update,
)


@dataclass(frozen=True)
class WatchlistState:
    """Everything the hub holds that gateways may be sent (ended authorisations left out)."""

    plates: list[PlateEntry] = field(default_factory=list)
    faces: list[FaceEntry] = field(default_factory=list)
    authorisations: list[Authorisation] = field(default_factory=list)


def live(auth: Authorisation, now: datetime) -> bool:
    """In force now or later: its window and its expiry are not over."""
    return now < min(auth.ends_at, auth.expires_at)


def in_scope(auth: Authorisation, gateway: Gateway) -> bool:
    """The authorisation covers a camera of ``gateway`` whose signs are confirmed."""
    return any(
        camera.signage_confirmed and auth.covers(gateway.node, camera.name, camera.area)
        for camera in gateway.cameras
    )


def build_update(
    config: SiteConfig, gateway: Gateway, state: WatchlistState, now: datetime
) -> WatchlistUpdate:
    """The whole list ``gateway`` should hold at ``now``."""
    plates = [p for p in state.plates if p.expires_at > now]
    auths: list[Authorisation] = []
    if config.watchlists.faces.enabled:
        auths = [a for a in state.authorisations if live(a, now) and in_scope(a, gateway)]
    allowed = {a.id for a in auths}
    faces = [f for f in state.faces if f.authorisation in allowed and f.expires_at > now]
    used = {f.authorisation for f in faces}
    return WatchlistUpdate(
        site=config.site.id,
        node=gateway.node,
        issued_at=now,
        plates=plates,
        faces=faces,
        authorisations=[a for a in auths if a.id in used],
    )


def build_all(
    config: SiteConfig, state: WatchlistState, now: datetime
) -> dict[str, tuple[WatchlistUpdate, bytes]]:
    """Every gateway's update and its encoded bytes, by node."""
    out = {}
    for gateway in config.gateways:
        update = build_update(config, gateway, state, now)
        out[gateway.node] = (update, encode_update(update))
    return out
