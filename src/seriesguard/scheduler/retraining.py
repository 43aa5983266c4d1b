"""The weekly retraining: every series with a production model, retrained on its history.

Each series goes through ``TrainingService.submit_from_history``, the path of
``POST /training/{id}`` with ``window_hours``: the same validation, per-series rate limit,
job row and queue. The fleet (285,000 series) is walked by series id a batch per scheduler
tick, paced by a shared :class:`~seriesguard.scheduler.cron_task.Pacer`; the cursor (last
series id) and the counts are saved after every batch, so a restart resumes the same run.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from seriesguard.core.detectors import detector_class
from seriesguard.core.errors import InvalidInput, RateLimited, Unavailable
from seriesguard.core.jobs import Job
from seriesguard.scheduler.cron_task import Pacer, Step
from seriesguard.scheduler.production import ProductionModel, ProductionModels
from seriesguard.scheduler.runs import SchedulerRun
from seriesguard.training.service import TrainingConfig

log = logging.getLogger(__name__)
SUBMITTER = "scheduler"  # submitted_by of the jobs the scheduler submits
INSUFFICIENT_HISTORY = "insufficient_history"


class HistoryTraining(Protocol):
    """The part of TrainingService the scheduler uses."""

    def submit_from_history(
        self,
        *,
        series_id: str,
        window_hours: int,
        config: TrainingConfig,
        submitted_by: str | None = None,
    ) -> Job: ...


class Outcome(StrEnum):
    SUBMITTED = "submitted"
    RATE_LIMITED = "skipped_rate_limited"
    NO_HISTORY = "skipped_no_history"
    FAILED = "failed"


COUNTS = tuple(outcome.value for outcome in Outcome)


@dataclass(frozen=True)
class Submission:
    outcome: Outcome
    job_id: str | None = None
    error: str | None = None


def config_of(*, algorithm: str, params: Mapping[str, Any] | None, priority: int) -> TrainingConfig:
    """Retrain with the production version's algorithm and hyperparameters: those of its
    fitted parameters the algorithm takes as hyperparameters (threshold_sigma, ...)."""
    names = detector_class(algorithm).hyperparameter_names
    hyperparameters = {k: v for k, v in (params or {}).items() if k in names}
    return TrainingConfig(algorithm=algorithm, hyperparameters=hyperparameters, priority=priority)


def submit_retraining(
    training: HistoryTraining,
    *,
    series_id: str,
    window_hours: int,
    algorithm: str,
    params: Mapping[str, Any] | None,
    priority: int,
) -> Submission:
    """Submit one retraining from history and say what became of it. A backend outage
    (:class:`Unavailable`) is raised: the caller retries the series later."""
    try:
        config = config_of(algorithm=algorithm, params=params, priority=priority)
        job = training.submit_from_history(
            series_id=series_id, window_hours=window_hours, config=config, submitted_by=SUBMITTER
        )
    except RateLimited:  # trained in the last few minutes: that model is fresh enough
        return Submission(Outcome.RATE_LIMITED)
    except InvalidInput as exc:
        if exc.rule == INSUFFICIENT_HISTORY:
            return Submission(Outcome.NO_HISTORY, error=exc.message)
        log.warning("retraining of %s refused: %s (%s)", series_id, exc.message, exc.rule)
        return Submission(Outcome.FAILED, error=f"{exc.rule}: {exc.message}")
    except Unavailable:
        raise
    except Exception as exc:  # one series must not stop the fleet
        log.exception("retraining of %s could not be submitted", series_id)
        return Submission(Outcome.FAILED, error=f"{type(exc).__name__}: {exc}")
    return Submission(Outcome.SUBMITTED, job_id=job.id)


class RetrainingJob:
    """The step of a weekly retraining run (a :class:`~.cron_task.RecordedJob`)."""

    def __init__(
        self,
        *,
        training: HistoryTraining,
        models: ProductionModels,
        pacer: Pacer,
        window_hours: int,
        priority: int,
        batch_size: int,
    ) -> None:
        self._training = training
        self._models = models
        self._pacer = pacer
        self._window_hours = window_hours
        self._priority = priority
        self._batch_size = batch_size

    def step(self, run: SchedulerRun) -> Step:
        progress = dict(run.progress) if run.progress else self._fresh_progress()
        cursor = run.cursor or ""
        allowed = self._pacer.take(self._batch_size)
        if allowed == 0:
            return Step(progress, run.cursor)
        page = self._models.page(after=cursor, limit=allowed)
        self._pacer.give_back(allowed - len(page))
        for model in page:
            try:
                submission = self._submit(model)
            except Unavailable as exc:  # keep what this batch did; the series is retried
                progress["waiting"] = exc.message
                return Step(_remaining(progress), cursor or None)
            progress[submission.outcome.value] += 1
            if submission.error is not None and submission.outcome is Outcome.FAILED:
                progress["last_error"] = f"{model.series_id}: {submission.error}"[:500]
            cursor = model.series_id
        progress.pop("waiting", None)
        done = len(page) < allowed  # the catalog has no series after the cursor
        return Step(_remaining(progress), cursor or None, done=done)

    def _fresh_progress(self) -> dict[str, Any]:
        return {
            "total": self._models.count(),
            "window_hours": self._window_hours,
            **dict.fromkeys(COUNTS, 0),
        }

    def _submit(self, model: ProductionModel) -> Submission:
        return submit_retraining(
            self._training,
            series_id=model.series_id,
            window_hours=self._window_hours,
            algorithm=model.algorithm,
            params=model.params,
            priority=self._priority,
        )


def _remaining(progress: dict[str, Any]) -> dict[str, Any]:
    """``remaining`` of the total counted at the start (series added since are walked too:
    the count is a guide, never below zero)."""
    done = sum(int(progress.get(name, 0)) for name in COUNTS)
    progress["remaining"] = max(int(progress.get("total", 0)) - done, 0)
    return progress
