"""Administration: users (create, disable, reset password, revoke sessions), audit, quarantine."""

# No "from __future__ import annotations": FastAPI must see the real Annotated types of
# the dependencies, which are local to build().
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from hub.api.auth import Principal
from hub.api.context import ApiContext
from hub.domain.users import USERNAME_PATTERN, AuditEntry, QuarantinedMessage, Role, User

Username = Annotated[str, PathParam(pattern=USERNAME_PATTERN)]


class NewUser(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    role: Role = Role.VIEWER


class CreatedUser(BaseModel):
    username: str
    role: Role
    password: str = Field(description="generated; shown only in this response")


class NewPassword(BaseModel):
    username: str
    password: str = Field(description="generated; shown only in this response")


def build(ctx: ApiContext) -> APIRouter:
    router = APIRouter(tags=["admin"])
    admin = Annotated[Principal, Depends(ctx.services["auth"].require(Role.ADMIN))]
    accounts = ctx.services["accounts"]

    def known(username: str) -> None:
        if ctx.storage.users.get(username) is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {username!r}")

    @router.get("/api/users", response_model=list[User])
    def users(who: admin) -> list[User]:
        return ctx.storage.users.all()

    @router.post("/api/users", response_model=CreatedUser, status_code=201)
    def create_user(who: admin, body: NewUser) -> CreatedUser:
        """Create a user with a generated password, returned only in this response."""
        try:
            password = accounts.create_user(body.username, body.role)
        except KeyError:
            raise HTTPException(status.HTTP_409_CONFLICT, "user already exists") from None
        ctx.audit(who.username, "user.create", body.username, str(body.role))
        return CreatedUser(username=body.username, role=body.role, password=password)

    @router.post("/api/users/{username}/disable", response_model=User)
    def disable(who: admin, username: Username) -> User:
        """The user can no longer sign in; their open sessions end now."""
        known(username)
        if username == who.username:
            raise HTTPException(status.HTTP_409_CONFLICT, "you cannot disable yourself")
        accounts.set_disabled(username, True)
        ctx.audit(who.username, "user.disable", username)
        return ctx.storage.users.get(username)

    @router.post("/api/users/{username}/enable", response_model=User)
    def enable(who: admin, username: Username) -> User:
        known(username)
        accounts.set_disabled(username, False)
        ctx.audit(who.username, "user.enable", username)
        return ctx.storage.users.get(username)

    @router.post("/api/users/{username}/password", response_model=NewPassword)
    def reset_password(who: admin, username: Username) -> NewPassword:
        """A new generated password, shown once; the user's sessions end."""
        known(username)
        password = accounts.reset_password(username)
        ctx.audit(who.username, "user.password_reset", username)
        return NewPassword(username=username, password=password)

    @router.delete("/api/users/{username}/sessions", status_code=204)
    def revoke_sessions(who: admin, username: Username) -> Response:
        """Sign the user out everywhere (a lost phone)."""
        known(username)
        n = accounts.revoke_sessions(username)
        ctx.audit(who.username, "user.sessions_revoked", username, f"{n} sessions")
        return Response(status_code=204)

    @router.get("/api/audit", response_model=list[AuditEntry])
    def audit(
        who: admin,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
        action: Annotated[str | None, Query(max_length=64)] = None,
        target: Annotated[str | None, Query(max_length=200)] = None,
    ) -> list[AuditEntry]:
        ctx.audit(who.username, "audit.view")
        return ctx.storage.audit.entries(limit, action, target)

    @router.get("/api/quarantine", response_model=list[QuarantinedMessage])
    def quarantine(
        who: admin, limit: Annotated[int, Query(ge=1, le=1000)] = 100
    ) -> list[QuarantinedMessage]:
        """Refused messages, newest first, with the first KiB of each payload."""
        ctx.audit(who.username, "quarantine.view")
        return ctx.storage.quarantine.entries(limit)

    return router
