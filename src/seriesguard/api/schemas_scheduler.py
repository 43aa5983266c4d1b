"""Request and response bodies of the scheduler routes (recorded runs, tasks)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from seriesguard.scheduler.runs import SchedulerRun


class RunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: str = Field(
        max_length=64,
        description="What to run now: weekly_retraining or drift_check.",
        examples=["weekly_retraining"],
    )


class RunOut(BaseModel):
    id: str
    task: str
    status: str = Field(description="queued, running, succeeded, failed or skipped.")
    triggered_by: str = Field(description="'schedule' for a cron fire, else who asked for it.")
    scheduled_for: str | None = Field(description="The cron fire this run is for (UTC).")
    started_at: str = Field(description="When it started; for a queued run, when asked for.")
    finished_at: str | None
    progress: dict[str, Any] = Field(
        description="Counts so far: weekly_retraining {total, submitted, skipped_rate_limited, "
        "skipped_no_history, failed, remaining}; drift_check {checked, drifted, retrained, "
        "alerts, ...}."
    )
    cursor: str | None = Field(description="Where a resumed run goes on from.")
    error: str | None


class RunPage(BaseModel):
    runs: list[RunOut]
    total: int
    limit: int
    offset: int


class TaskOut(BaseModel):
    name: str
    schedule: str | None = Field(description="Cron expression (UTC); null: only when asked.")
    next_fire: str | None = Field(description="The next cron fire (UTC).")
    last_run: RunOut | None


class TaskList(BaseModel):
    tasks: list[TaskOut]


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def run_out(run: SchedulerRun) -> RunOut:
    return RunOut(
        id=run.id,
        task=run.task,
        status=run.status.value,
        triggered_by=run.triggered_by,
        scheduled_for=iso(run.scheduled_for),
        started_at=iso(run.started_at) or "",
        finished_at=iso(run.finished_at),
        progress=dict(run.progress),
        cursor=run.cursor,
        error=run.error,
    )
