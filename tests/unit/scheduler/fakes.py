"""In-memory stand-ins of what the scheduler's jobs talk to: the runs table, the training
service, the catalog of production models, and a clock the test moves."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from seriesguard.core.errors import Conflict, InvalidInput, RateLimited, Unavailable
from seriesguard.core.jobs import Job, JobStatus
from seriesguard.scheduler.production import ProductionModel
from seriesguard.scheduler.runs import ACTIVE, SCHEDULE, RunStatus, SchedulerRun
from seriesguard.training.service import TrainingConfig


@dataclass
class FakeClock:
    now: float = 1_716_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeRuns:
    """The contract of SchedulerRunRepository, in a dict (the fire is unique per task)."""

    def __init__(self) -> None:
        self.rows: dict[str, SchedulerRun] = {}
        self._lock = threading.Lock()

    def claim_fire(
        self, *, task: str, scheduled_for: float, status: RunStatus = RunStatus.RUNNING
    ) -> SchedulerRun | None:
        with self._lock:
            if any(r.task == task and r.scheduled_for == scheduled_for for r in self.rows.values()):
                return None
            run = SchedulerRun(
                id=str(uuid.uuid4()),
                task=task,
                status=status,
                triggered_by=SCHEDULE,
                started_at=time.time(),
                scheduled_for=scheduled_for,
                finished_at=None if status is RunStatus.RUNNING else time.time(),
            )
            self.rows[run.id] = run
            return run

    def enqueue(self, *, task: str, triggered_by: str) -> SchedulerRun:
        with self._lock:
            if any(r.task == task and r.status in ACTIVE for r in self.rows.values()):
                raise Conflict(f"{task} busy", rule="run_in_progress", loc=("body", "task"))
            run = SchedulerRun(
                id=str(uuid.uuid4()),
                task=task,
                status=RunStatus.QUEUED,
                triggered_by=triggered_by,
                started_at=time.time(),
            )
            self.rows[run.id] = run
            return run

    def start(self, run_id: str) -> bool:
        with self._lock:
            run = self.rows[run_id]
            if run.status is not RunStatus.QUEUED:
                return False
            self.rows[run_id] = replace(run, status=RunStatus.RUNNING)
            return True

    def save(self, run_id: str, *, progress: Mapping[str, Any], cursor: str | None) -> None:
        with self._lock:
            run = self.rows[run_id]
            if run.status is RunStatus.RUNNING:
                self.rows[run_id] = replace(run, progress=dict(progress), cursor=cursor)

    def finish(
        self,
        run_id: str,
        *,
        status: RunStatus,
        progress: Mapping[str, Any] | None = None,
        cursor: str | None = None,
        error: str | None = None,
    ) -> None:
        with self._lock:
            run = self.rows[run_id]
            if run.status in ACTIVE:
                self.rows[run_id] = replace(
                    run,
                    status=status,
                    progress=dict(progress if progress is not None else run.progress),
                    cursor=cursor,
                    error=error,
                    finished_at=time.time(),
                )

    def get(self, run_id: str) -> SchedulerRun | None:
        return self.rows.get(run_id)

    def active(self) -> list[SchedulerRun]:
        return [r for r in self.rows.values() if r.status in ACTIVE]

    def latest_fire(self, task: str) -> float | None:
        fires = [r.scheduled_for for r in self.rows.values() if r.task == task]
        return max((f for f in fires if f is not None), default=None)

    def of(self, task: str) -> list[SchedulerRun]:
        return sorted(
            (r for r in self.rows.values() if r.task == task),
            key=lambda r: r.scheduled_for or 0.0,
        )


@dataclass
class Submitted:
    series_id: str
    window_hours: int
    config: TrainingConfig
    at: float


@dataclass
class FakeTraining:
    """submit_from_history that records each call; ``errors`` maps a series to what it
    raises instead."""

    clock: Callable[[], float] = time.time
    errors: dict[str, Exception] = field(default_factory=dict)
    submitted: list[Submitted] = field(default_factory=list)

    def submit_from_history(
        self,
        *,
        series_id: str,
        window_hours: int,
        config: TrainingConfig,
        submitted_by: str | None = None,
    ) -> Job:
        error = self.errors.get(series_id)
        if error is not None:
            raise error
        self.submitted.append(Submitted(series_id, window_hours, config, self.clock()))
        now = self.clock()
        return Job(
            id=str(uuid.uuid4()),
            series_id=series_id,
            status=JobStatus.QUEUED,
            priority=config.priority,
            algorithm=config.algorithm,
            hyperparameters=dict(config.hyperparameters),
            n_points=10,
            data_path="memory://",
            created_at=now,
            updated_at=now,
            submitted_by=submitted_by,
        )

    @property
    def series(self) -> list[str]:
        return [s.series_id for s in self.submitted]


NO_HISTORY = InvalidInput("3 points in 168 h", rule="insufficient_history", loc=("body",))
RATE_LIMITED = RateLimited("trained 1 min ago", retry_after=240.0)
DOWN = Unavailable("history store down")


class FakeModels:
    """ProductionModels over a list, paged by series id like the real one."""

    def __init__(self, models: list[ProductionModel]) -> None:
        self.models = sorted(models, key=lambda m: m.series_id)
        self.pages = 0

    def page(self, *, after: str, limit: int) -> list[ProductionModel]:
        self.pages += 1
        return [m for m in self.models if m.series_id > after][:limit]

    def count(self) -> int:
        return len(self.models)


def fleet(count: int, *, sigma: float = 3.5) -> list[ProductionModel]:
    return [
        ProductionModel(
            series_id=f"s{index:04d}",
            version=2,
            algorithm="statistical",
            params={"mean": 1.0, "std": 2.0, "threshold_sigma": sigma},
        )
        for index in range(count)
    ]
