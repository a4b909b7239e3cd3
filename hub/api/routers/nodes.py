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
from hub.stats import hub_figures


class StatsOut(BaseModel):
    alerts_received: int
    alerts_stored: int
    duplicates: int
    seq_gaps: int = Field(description="alerts still missing (late arrivals fill gaps)")
    seq_gaps_seen: int = Field(description="gaps ever detected; never goes down")
    snapshots: int
    snapshot_duplicates: int
    quarantined: dict[str, int]
    clock_skewed: int = Field(description="alerts whose event time was a day or more off")
    seq_jumps: int = Field(description="sequence jumps too large to be loss (a reset node)")
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
        figures = hub_figures(storage, ctx.services["ingest"].pending_counts())
        return StatsOut(**figures, live_subscribers=ctx.bus.stream_count)

    return router
