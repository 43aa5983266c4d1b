"""Operator actions on the predictor."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.convert import label
from seriesguard.api.deps import RuntimeDep
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.core.errors import Unavailable
from seriesguard.core.jobs import JobStatus
from seriesguard.core.series import check_series_id
from seriesguard.runtime import Role

router = APIRouter(prefix="/api/v1/admin", tags=["admin"], route_class=FastJsonRoute)


@router.post("/reload/{series_id}")
async def reload(series_id: str, runtime: RuntimeDep) -> dict[str, Any]:
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
    return answer


@router.get("/queue")
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
