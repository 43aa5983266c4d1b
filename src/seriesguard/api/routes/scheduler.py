"""The scheduler's recorded runs: list, read, and ask for one (weekly retraining, drift check).

A run asked for here is queued; the scheduler's leader starts it on its next tick (this API
process need not be the leader, nor run a scheduler at all).
"""

from __future__ import annotations

import re
import time
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.deps import RuntimeDep, allow
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.paging import Limit, Offset
from seriesguard.api.schemas_scheduler import (
    RunOut,
    RunPage,
    RunRequest,
    TaskList,
    TaskOut,
    iso,
    run_out,
)
from seriesguard.core.authz import Permission, Principal
from seriesguard.core.errors import NotFound
from seriesguard.scheduler.jobs import RECORDED_TASKS, check_task, schedules
from seriesguard.scheduler.runs import RunStatus

router = APIRouter(prefix="/api/v1/scheduler", tags=["scheduler"], route_class=FastJsonRoute)

TaskFilter = Annotated[
    str | None, Query(pattern=r"^[a-z_]{1,64}$", description="Only runs of this task.")
]
# Run ids are UUIDs: anything else is no run (and never reaches the DB, which may refuse
# some characters outright).
_RUN_ID = re.compile(r"^[0-9a-f-]{1,36}$")
StatusFilter = Annotated[RunStatus | None, Query(description="Only runs in this status.")]


@router.get("/runs", response_model=RunPage, dependencies=[allow(Permission.READ)])
async def list_runs(
    runtime: RuntimeDep,
    task: TaskFilter = None,
    status: StatusFilter = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> RunPage:
    """Recorded runs of the scheduled tasks, newest first."""
    runs, total = await run_in_threadpool(
        lambda: runtime.scheduler_runs.list_runs(
            task=task, status=status, limit=limit, offset=offset
        )
    )
    return RunPage(runs=[run_out(r) for r in runs], total=total, limit=limit, offset=offset)


@router.get("/runs/{run_id}", response_model=RunOut, dependencies=[allow(Permission.READ)])
async def get_run(run_id: str, runtime: RuntimeDep) -> RunOut:
    """One run, with its progress counts (a running one: so far)."""
    found = _RUN_ID.match(run_id) is not None
    run = await run_in_threadpool(runtime.scheduler_runs.get, run_id) if found else None
    if run is None:
        raise NotFound(f"no scheduler run {run_id!r}", rule="run_not_found", loc=("path", "run_id"))
    return run_out(run)


@router.post("/runs", status_code=status.HTTP_202_ACCEPTED, response_model=RunOut)
async def trigger_run(
    body: RunRequest,
    runtime: RuntimeDep,
    response: Response,
    caller: Annotated[Principal, allow(Permission.ADMIN)],
) -> RunOut:
    """Run a task now, out of its schedule: 202 with the queued run; 409 while a run of the
    task is queued or running."""
    task = check_task(body.task)
    run = await run_in_threadpool(
        lambda: runtime.scheduler_runs.enqueue(task=task, triggered_by=caller.subject)
    )
    response.headers["Location"] = f"/api/v1/scheduler/runs/{run.id}"
    return run_out(run)


@router.get("/tasks", response_model=TaskList, dependencies=[allow(Permission.READ)])
async def list_tasks(runtime: RuntimeDep) -> TaskList:
    """The recorded tasks: schedule, next fire and last run."""
    plans = schedules(runtime.settings)
    now = time.time()

    def read() -> TaskList:
        tasks = []
        for name in RECORDED_TASKS:
            plan = plans[name]
            last = runtime.scheduler_runs.latest(name)
            tasks.append(
                TaskOut(
                    name=name,
                    schedule=plan.expression if plan else None,
                    next_fire=iso(plan.next_after(now)) if plan else None,
                    last_run=run_out(last) if last else None,
                )
            )
        return TaskList(tasks=tasks)

    return await run_in_threadpool(read)
