"""What every API router gets: storage, the event bus, services, auth and the clock.

A router module exposes ``build(ctx: ApiContext) -> APIRouter``; :mod:`hub.api.app` lists the
modules, so adding a resource is one new module and one line there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, status
from fastapi.concurrency import run_in_threadpool

from contract.siteconfig import SiteConfig
from hub.clock import Clock, system_clock
from hub.events import EventBus
from hub.storage.repositories import Storage

log = logging.getLogger(__name__)


@dataclass
class ApiContext:
    storage: Storage
    bus: EventBus
    config: SiteConfig | None = None
    clock: Clock = system_clock
    #: Domain services by name ("incidents", "notifications", "accounts" ...), set by
    #: :class:`hub.service.HubService`; routers take what they need.
    services: dict[str, Any] = field(default_factory=dict)
    heartbeat_s: float = 15.0
    secure_cookies: bool = False

    def running(self, name: str) -> Any:
        """The service ``name``, or a 503 when this API runs without it (an API served with
        no hub behind it: tools, some tests)."""
        found = self.services.get(name)
        if found is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"no {name} service")
        return found

    def audit(
        self,
        username: str | None,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> None:
        """Record who saw or did what. Never fails the request: a full disk must not turn
        a read into a 500 (the failure is logged instead)."""
        try:
            self.storage.audit.record(self.clock(), username, action, target, detail)
        except Exception:
            log.exception("audit write failed: %s %s", username, action)

    async def audit_async(self, *args: Any) -> None:
        await run_in_threadpool(self.audit, *args)
