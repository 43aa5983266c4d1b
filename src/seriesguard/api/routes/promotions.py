"""Canary and shadow promotions: follow them, list them, pause, resume or roll them back.

They are started by ``POST /api/v1/models/{id}/versions/{v}/promote`` with strategy canary or
shadow (:func:`start_rollout`, called from the models route), which answers 202.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from seriesguard.api.audit import record_action
from seriesguard.api.deps import AuditDep, allow, get_runtime
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.paging import Limit, Offset
from seriesguard.api.schemas import PromoteRequest
from seriesguard.api.schemas_promotions import (
    PromotionAction,
    PromotionOut,
    PromotionPage,
    PromotionStarted,
    promotion_out,
    started_out,
    status_url,
)
from seriesguard.core.audit import AuditAction
from seriesguard.core.authz import Permission, Principal
from seriesguard.core.rollout import Promotion
from seriesguard.promotion.rollout import PromotionService
from seriesguard.store.audit import AuditRepository

router = APIRouter(prefix="/api/v1/promotions", tags=["promotions"], route_class=FastJsonRoute)


def get_promotions(request: Request) -> PromotionService:
    return get_runtime(request).promotions


PromotionsDep = Annotated[PromotionService, Depends(get_promotions)]


async def start_rollout(
    *,
    series_id: str,
    version: int,
    body: PromoteRequest,
    request: Request,
    audit: AuditRepository,
    caller: Principal,
) -> JSONResponse:
    """The canary/shadow branch of the promote route: record, split traffic, answer 202."""
    service = get_promotions(request)
    promotion = await run_in_threadpool(
        lambda: service.start(
            series_id=series_id,
            version=version,
            strategy=body.strategy,
            canary_config=body.canary_config,
            shadow_config=body.shadow_config,
            created_by=caller.subject,
        )
    )
    request.app.state.runtime.metrics.promotions.inc(promotion.strategy.value)
    await record_action(
        audit,
        request,
        caller,
        action=AuditAction.PROMOTE,
        series_id=series_id,
        version=version,
        details={
            "strategy": body.strategy,
            "promotion_id": promotion.id,
            "champion_version": promotion.champion_version,
            "config": promotion.config.to_request(),
        },
    )
    answer = started_out(promotion)
    return JSONResponse(
        answer.model_dump(), status_code=202, headers={"Location": status_url(promotion.id)}
    )


# what the promote route documents besides its 200
STARTED_RESPONSE: dict[int | str, dict[str, Any]] = {
    202: {"model": PromotionStarted, "description": "A canary or shadow promotion started."}
}


@router.get("", response_model=PromotionPage, dependencies=[allow(Permission.READ)])
async def list_promotions(
    promotions: PromotionsDep,
    series_id: Annotated[str | None, Query(max_length=128)] = None,
    state: Annotated[str | None, Query(max_length=32, description="e.g. canary, completed")] = None,
    active: Annotated[bool | None, Query(description="true: unfinished only")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> PromotionPage:
    items, total = await run_in_threadpool(
        lambda: promotions.list(
            series_id=series_id, state=state, active=active, limit=limit, offset=offset
        )
    )
    return PromotionPage(
        items=[promotion_out(p) for p in items], total=total, limit=limit, offset=offset
    )


@router.get("/{promotion_id}", response_model=PromotionOut, dependencies=[allow(Permission.READ)])
async def get_promotion(promotion_id: str, promotions: PromotionsDep) -> PromotionOut:
    promotion, events = await run_in_threadpool(promotions.get, promotion_id)
    return promotion_out(promotion, events)


@router.post("/{promotion_id}/rollback", response_model=PromotionOut)
async def rollback_promotion(
    promotion_id: str,
    promotions: PromotionsDep,
    request: Request,
    audit: AuditDep,
    caller: Annotated[Principal, allow(Permission.ROLLBACK)],
    body: PromotionAction | None = None,
) -> PromotionOut:
    """The production version alone serves again, at once; the new version is Archived."""
    reason = body.reason if body else None
    promotion = await run_in_threadpool(
        lambda: promotions.rollback(promotion_id=promotion_id, by=caller.subject, reason=reason)
    )
    request.app.state.runtime.metrics.rollbacks.inc()
    await _audit(audit, request, caller, AuditAction.ROLLBACK, promotion, "rollback", reason)
    return promotion_out(promotion)


@router.post("/{promotion_id}/pause", response_model=PromotionOut)
async def pause_promotion(
    promotion_id: str,
    promotions: PromotionsDep,
    request: Request,
    audit: AuditDep,
    caller: Annotated[Principal, allow(Permission.PROMOTE)],
    body: PromotionAction | None = None,
) -> PromotionOut:
    """Hold the rollout where it is: the current split keeps serving, no step passes."""
    reason = body.reason if body else None
    promotion = await run_in_threadpool(
        lambda: promotions.pause(promotion_id=promotion_id, by=caller.subject, reason=reason)
    )
    await _audit(audit, request, caller, AuditAction.PROMOTE, promotion, "pause", reason)
    return promotion_out(promotion)


@router.post("/{promotion_id}/resume", response_model=PromotionOut)
async def resume_promotion(
    promotion_id: str,
    promotions: PromotionsDep,
    request: Request,
    audit: AuditDep,
    caller: Annotated[Principal, allow(Permission.PROMOTE)],
    body: PromotionAction | None = None,
) -> PromotionOut:
    """Go on from a pause; the current step starts over."""
    reason = body.reason if body else None
    promotion = await run_in_threadpool(
        lambda: promotions.resume(promotion_id=promotion_id, by=caller.subject, reason=reason)
    )
    await _audit(audit, request, caller, AuditAction.PROMOTE, promotion, "resume", reason)
    return promotion_out(promotion)


async def _audit(
    audit: AuditRepository,
    request: Request,
    caller: Principal,
    action: AuditAction,
    promotion: Promotion,
    operation: str,
    reason: str | None,
) -> None:
    await record_action(
        audit,
        request,
        caller,
        action=action,
        series_id=promotion.series_id,
        version=promotion.version,
        details={
            "promotion_id": promotion.id,
            "operation": operation,
            "state": promotion.state.value,
            "reason": reason,
        },
    )
