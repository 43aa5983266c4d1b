"""Operator actions on the predictor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.audit import record_action
from seriesguard.api.convert import audit_out, label
from seriesguard.api.deps import AuditDep, RuntimeDep, allow
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.paging import BeforeId, Limit
from seriesguard.api.schemas import AuditPage
from seriesguard.core.audit import AuditAction
from seriesguard.core.authz import Permission, Principal
from seriesguard.core.errors import Unavailable
from seriesguard.core.jobs import JobStatus
from seriesguard.core.series import check_series_id
from seriesguard.runtime import Role

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], route_class=FastJsonRoute)


@router.post("/reload/{series_id}")
async def reload(
    series_id: str,
    runtime: RuntimeDep,
    request: Request,
    audit: AuditDep,
    caller: Annotated[Principal, allow(Permission.RELOAD)],
) -> dict[str, Any]:
    """Eager invalidation. A predictor drops the series and loads its production model now;
    the API bumps the series' catalog revision, which every predictor polls, so the reload
    reaches all of them within SERIESGUARD_CATALOG_POLL_SECONDS."""
    check_series_id(series_id)
    answer: dict[str, Any] = {"series_id": series_id}
    if Role.API in runtime.roles:
        answer["broadcast"] = await run_in_threadpool(runtime.catalog.touch, series_id)
    if Role.PREDICTOR in runtime.roles:
        model = await run_in_threadpool(runtime.predictor.reload, series_id)
        answer |= {
            "reloaded": model is not None,
            "version": label(model.version) if model else None,
            "loaded_from": model.origin if model else None,
        }
    await record_action(audit, request, caller, action=AuditAction.RELOAD, series_id=series_id)
    return answer


@router.get("/queue", dependencies=[allow(Permission.ADMIN)])
async def queue(runtime: RuntimeDep) -> dict[str, Any]:
    """Training backlog for dashboards and autoscalers: messages ready in the broker's work
    queue, and jobs by state in the job table (the truth; the two differ by jobs in flight and
    jobs the reconciler has yet to republish). The broker being down is reported, not a 5xx."""
    answer: dict[str, Any] = {"queue": runtime.settings.broker_queue}
    try:
        answer["ready_messages"] = await run_in_threadpool(runtime.queue.depth)
    except Unavailable as exc:
        answer |= {"ready_messages": None, "broker_error": exc.message}
    counts = await run_in_threadpool(runtime.jobs.count_by_status)
    answer["jobs"] = {
        s.value: counts.get(s.value, 0) for s in (JobStatus.QUEUED, JobStatus.PROCESSING)
    }
    return answer


@router.get("/audit", response_model=AuditPage, dependencies=[allow(Permission.ADMIN)])
async def audit_log(
    audit: AuditDep,
    limit: Limit = 100,
    before_id: BeforeId = None,
    action: AuditAction | None = None,
    series_id: str | None = None,
    subject: Annotated[str | None, Query(max_length=256)] = None,
) -> AuditPage:
    """Who promoted, rolled back, cancelled or reloaded what, when and from where; newest
    first. Page on with ``before_id`` = the page's ``next_before_id``."""
    if series_id is not None:
        check_series_id(series_id, loc=("query", "series_id"))
    events = await run_in_threadpool(
        lambda: audit.page(
            limit=limit, before_id=before_id, action=action, series_id=series_id, subject=subject
        )
    )
    items = [audit_out(event) for event in events]
    next_before = events[-1].id if len(events) == limit else None
    return AuditPage(items=items, next_before_id=next_before)
