"""Series, versions, promotion and deployment config (seed flow 2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from seriesguard.api.audit import record_action
from seriesguard.api.convert import label, series_out, version_out
from seriesguard.api.deps import AuditDep, ModelsDep, RuntimeDep, allow
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.paging import Limit, Offset
from seriesguard.api.routes.promotions import STARTED_RESPONSE, start_rollout
from seriesguard.api.schemas import (
    DeploymentConfig,
    PromoteRequest,
    PromoteResponse,
    RollbackRequest,
    SeriesDetail,
    SeriesPage,
)
from seriesguard.core.audit import AuditAction
from seriesguard.core.authz import Permission, Principal
from seriesguard.core.series import check_series_id, model_name, parse_version
from seriesguard.core.stages import Stage
from seriesguard.store.catalog import SeriesFilter

router = APIRouter(prefix="/api/v1/models", tags=["models"], route_class=FastJsonRoute)


@router.get("", response_model=SeriesPage, dependencies=[allow(Permission.READ)])
async def list_models(
    models: ModelsDep,
    limit: Limit = 50,
    offset: Offset = 0,
    prefix: Annotated[
        str | None, Query(max_length=128, description="Only series whose id starts so.")
    ] = None,
    contains: Annotated[
        str | None, Query(max_length=128, description="Only series whose id holds this text.")
    ] = None,
    stage: Annotated[
        SeriesFilter | None,
        Query(
            description="Only series serving a version in this stage: production, staging, "
            "canary, shadow, or none (no Production version).",
        ),
    ] = None,
) -> SeriesPage:
    items, total = await run_in_threadpool(
        lambda: models.list_series(
            limit=limit, offset=offset, prefix=prefix, contains=contains, stage=stage
        )
    )
    return SeriesPage(items=[series_out(s) for s in items], total=total, limit=limit, offset=offset)


@router.get("/{series_id}", response_model=SeriesDetail, dependencies=[allow(Permission.READ)])
async def get_model(series_id: str, models: ModelsDep, runtime: RuntimeDep) -> SeriesDetail:
    summary, versions = await run_in_threadpool(models.series, series_id)
    active = await run_in_threadpool(runtime.promotions.active_id, series_id)
    return SeriesDetail(
        **series_out(summary).model_dump(),
        versions=[version_out(v) for v in versions],
        canary_percentage=summary.canary_percentage,
        active_promotion_id=active,
    )


@router.post(
    "/{series_id}/versions/{version}/promote",
    response_model=PromoteResponse,
    responses=STARTED_RESPONSE,
)
async def promote(
    series_id: str,
    version: str,
    body: PromoteRequest,
    models: ModelsDep,
    request: Request,
    audit: AuditDep,
    caller: Annotated[Principal, allow(Permission.PROMOTE)],
) -> PromoteResponse | JSONResponse:
    """direct: Production now (200). canary / shadow: a promotion that moves on by itself,
    answered 202 with its id (GET /api/v1/promotions/{id} follows it)."""
    number = parse_version(version)
    if body.strategy != "direct":
        return await start_rollout(
            series_id=series_id,
            version=number,
            body=body,
            request=request,
            audit=audit,
            caller=caller,
        )
    result = await run_in_threadpool(
        lambda: models.promote(
            series_id=series_id,
            version=number,
            strategy=body.strategy,
            archive_existing=body.archive_existing,
        )
    )
    request.app.state.runtime.metrics.promotions.inc("production")
    await record_action(
        audit,
        request,
        caller,
        action=AuditAction.PROMOTE,
        series_id=series_id,
        version=result.version,
        details={
            "strategy": body.strategy,
            "previous_version": result.previous_version,
            "archived": result.archived,
        },
    )
    return PromoteResponse(
        version=label(result.version) or "",
        previous_version=label(result.previous_version),
        archived=result.archived,
    )


@router.post("/{series_id}/rollback", response_model=PromoteResponse)
async def rollback(
    series_id: str,
    body: RollbackRequest,
    models: ModelsDep,
    request: Request,
    audit: AuditDep,
    caller: Annotated[Principal, allow(Permission.ROLLBACK)],
) -> PromoteResponse:
    """Serve an earlier version again, at once: the current production version is Archived.
    Every predictor picks it up like a promotion (eagerly here, through the catalog poll
    elsewhere)."""
    wanted = None
    if body.to_version is not None:
        wanted = parse_version(body.to_version, loc=("body", "to_version"))
    result = await run_in_threadpool(
        lambda: models.rollback(series_id=series_id, to_version=wanted)
    )
    request.app.state.runtime.metrics.rollbacks.inc()
    await record_action(
        audit,
        request,
        caller,
        action=AuditAction.ROLLBACK,
        series_id=series_id,
        version=result.version,
        details={"previous_version": result.previous_version},
    )
    return PromoteResponse(
        version=label(result.version) or "",
        previous_version=label(result.previous_version),
        archived=result.archived,
    )


@router.get(
    "/{series_id}/deployment-config",
    response_model=DeploymentConfig,
    dependencies=[allow(Permission.READ)],
)
async def deployment_config(
    series_id: str, models: ModelsDep, runtime: RuntimeDep
) -> DeploymentConfig:
    check_series_id(series_id)
    summary, versions = await run_in_threadpool(models.series, series_id)
    by_stage = {v.stage: v for v in versions}
    served = runtime.predictor.table.get(series_id)
    return DeploymentConfig(
        series_id=series_id,
        registered_model=model_name(series_id),
        strategy="direct",
        production=version_out(by_stage[Stage.PRODUCTION])
        if Stage.PRODUCTION in by_stage
        else None,
        staging=version_out(
            max((v for v in versions if v.stage is Stage.STAGING), key=lambda v: v.version)
        )
        if summary.staging_version is not None
        else None,
        serving={
            "traffic": {label(summary.production_version) or "fallback": 100},
            "model_uri": f"models:/{model_name(series_id)}@production",
            "in_memory_version": label(served.version) if served else None,
            "loaded_from": served.origin if served else None,
            "fallback_enabled": runtime.predictor.fallback_enabled,
        },
    )
