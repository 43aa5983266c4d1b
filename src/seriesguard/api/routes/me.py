"""Who is calling: what the dashboard shows, and which actions it offers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from seriesguard.api.deps import RuntimeDep, allow
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.schemas_fleet import MeOut, me_out
from seriesguard.api.security import ANONYMOUS
from seriesguard.core.authz import Permission, Principal

router = APIRouter(prefix="/api/v1", tags=["auth"], route_class=FastJsonRoute)


@router.get("/me", response_model=MeOut)
async def me(runtime: RuntimeDep, caller: Annotated[Principal, allow(Permission.PUBLIC)]) -> MeOut:
    """The caller's subject, roles and permissions. Public: without a token (on a server that
    wants one) the answer says so, and a page knows to ask for a login; a bad token is 401."""
    return me_out(caller, auth_enabled=runtime.settings.auth_enabled, anonymous=caller is ANONYMOUS)
