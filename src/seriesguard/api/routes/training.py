"""Training jobs: submit, follow, list, cancel (seed flow 1)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from seriesguard.api import arrow_body
from seriesguard.api.convert import job_out
from seriesguard.api.deps import TrainingDep
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.schemas import JobOut, JobPage, TrainingRequest
from seriesguard.core.errors import InvalidInput
from seriesguard.core.jobs import DEFAULT_PRIORITY, Job, JobStatus
from seriesguard.training.service import TrainingConfig

router = APIRouter(prefix="/api/v1/training", tags=["training"], route_class=FastJsonRoute)


@router.post("/{series_id}", status_code=status.HTTP_202_ACCEPTED, response_model=JobOut)
async def submit(
    series_id: str, body: TrainingRequest, training: TrainingDep, response: Response
) -> JobOut:
    config = TrainingConfig(
        algorithm=body.config.algorithm,
        hyperparameters=body.config.hyperparameters,
        priority=body.config.priority,
    )
    job = await run_in_threadpool(
        lambda: training.submit(
            series_id=series_id, timestamps=body.timestamps, values=body.values, config=config
        )
    )
    response.headers["Location"] = f"/api/v1/training/jobs/{job.id}"
    return job_out(job)


@router.post(
    "/{series_id}/arrow",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {arrow_body.MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "Arrow IPC stream with columns `timestamp` (epoch seconds or an Arrow "
            "timestamp) and `value`; the same rules as the JSON body.",
        }
    },
)
async def submit_arrow(
    series_id: str,
    request: Request,
    training: TrainingDep,
    response: Response,
    algorithm: str = "statistical",
    priority: int = DEFAULT_PRIORITY,
    hyperparameters: Annotated[
        str | None, Query(description='JSON object, e.g. {"threshold_sigma": 3}')
    ] = None,
) -> JobOut:
    """The columnar variant of ``POST /{series_id}``, for large windows (see ``arrow_body``)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != arrow_body.MEDIA_TYPE:
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            f"send the points as {arrow_body.MEDIA_TYPE}, not {media or 'no content type'}",
        )
    config = TrainingConfig(
        algorithm=algorithm, hyperparameters=_hyperparameters(hyperparameters), priority=priority
    )
    blob = await request.body()

    def submit() -> Job:
        timestamps, values = arrow_body.read_points(blob)
        return training.submit(
            series_id=series_id, timestamps=timestamps, values=values, config=config
        )

    job = await run_in_threadpool(submit)
    response.headers["Location"] = f"/api/v1/training/jobs/{job.id}"
    return job_out(job)


def _hyperparameters(raw: str | None) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise InvalidInput(
            "hyperparameters must be a JSON object",
            rule="json_object",
            loc=("query", "hyperparameters"),
        )
    return parsed


@router.get("/jobs", response_model=JobPage)
async def list_jobs(
    training: TrainingDep,
    series_id: str | None = None,
    status_filter: Annotated[str | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> JobPage:
    wanted = None
    if status_filter is not None:
        try:
            wanted = JobStatus(status_filter)
        except ValueError:
            raise InvalidInput(
                f"status must be one of {[s.value for s in JobStatus]}",
                rule="job_status",
                loc=("query", "status"),
            ) from None
    jobs, total = await run_in_threadpool(
        lambda: training.list_jobs(series_id=series_id, status=wanted, limit=limit, offset=offset)
    )
    return JobPage(items=[job_out(j) for j in jobs], total=total, limit=limit, offset=offset)


@router.get("/jobs/{job_id}", response_model=JobOut)
async def get_job(job_id: str, training: TrainingDep) -> JobOut:
    return job_out(await run_in_threadpool(training.get, job_id))


@router.delete("/jobs/{job_id}", response_model=JobOut)
async def cancel_job(job_id: str, training: TrainingDep) -> JobOut:
    return job_out(await run_in_threadpool(training.cancel, job_id))
