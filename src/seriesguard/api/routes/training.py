"""Training jobs: submit, follow, list, cancel (seed flow 1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.convert import job_out
from seriesguard.api.deps import TrainingDep
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.schemas import JobOut, JobPage, TrainingRequest
from seriesguard.core.errors import InvalidInput
from seriesguard.core.jobs import JobStatus
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
