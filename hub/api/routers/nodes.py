"""Nodes (online/offline, sequence gaps, latest stats) and the hub's counters."""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.domain.nodes import NodeState
from hub.domain.users import Role


class StatsOut(BaseModel):
    alerts_received: int
    alerts_stored: int
    duplicates: int
    seq_gaps: int = Field(description="alerts still missing (late arrivals fill gaps)")
    seq_gaps_seen: int = Field(description="gaps ever detected; never goes down")
    snapshots: int
    snapshot_duplicates: int
    quarantined: dict[str, int]
    live_subscribers: int


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["nodes"])
    viewer = Annotated[Principal, Depends(ctx.services["auth"].require(Role.VIEWER))]
    storage = ctx.storage

    @router.get("/api/nodes", response_model=list[NodeState])
    def nodes(who: viewer) -> list[NodeState]:
        """Every node: online/offline, last status time, sequence gaps and latest stats."""
        return storage.nodes.all()

    @router.get("/api/stats", response_model=StatsOut)
    def stats(who: viewer) -> StatsOut:
        c = storage.counters.all()
        quarantined = {
            k.split(".", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("quarantined.")
        }
        return StatsOut(
            alerts_received=c.get("alerts", 0),
            alerts_stored=storage.alerts.count(),
            duplicates=c.get("duplicates", 0),
            seq_gaps=storage.nodes.total_seq_gaps(),
            seq_gaps_seen=c.get("seq_gaps_seen", 0),
            snapshots=c.get("snapshots", 0),
            snapshot_duplicates=c.get("snapshot_duplicates", 0),
            quarantined=quarantined,
            live_subscribers=ctx.bus.stream_count,
        )

    return router
