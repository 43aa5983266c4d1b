"""The scheduler's jobs of the orchestration work, wired from the runtime's services.

Recorded cron tasks (a row per run in ``scheduler_runs``, triggerable through the API):
``weekly_retraining`` and ``drift_check``. Interval tasks (not recorded per tick, which would
be a row a second; counted in ``scheduler_task_runs_total`` like the others): the cron
runner itself, the backlog watch, and the pruning of old run records.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from seriesguard.core.cron import CronSchedule
from seriesguard.core.errors import InvalidInput
from seriesguard.core.monitoring import SECONDS_PER_HOUR
from seriesguard.scheduler.backlog import BacklogWatch
from seriesguard.scheduler.cron_task import CronRunner, CronTask, Pacer
from seriesguard.scheduler.drift_reaction import DriftReactionJob
from seriesguard.scheduler.production import ProductionModels
from seriesguard.scheduler.retraining import RetrainingJob
from seriesguard.scheduler.service import PeriodicTask
from seriesguard.store.db import session_factory

if TYPE_CHECKING:  # the runtime builds the scheduler: no import cycle at run time
    from seriesguard.runtime import Runtime
    from seriesguard.settings import Settings

WEEKLY_RETRAINING = "weekly_retraining"
DRIFT_CHECK = "drift_check"
RECORDED_TASKS = (WEEKLY_RETRAINING, DRIFT_CHECK)
RUNNER_TICK_SECONDS = 1.0  # how often the runner looks for due fires and advances runs
SECONDS_PER_DAY = 86_400.0


def check_task(task: str) -> str:
    """``task`` if it is a recorded task, else InvalidInput naming the ones there are."""
    if task not in RECORDED_TASKS:
        raise InvalidInput(
            f"unknown task {task!r}; the tasks that can be run are: {', '.join(RECORDED_TASKS)}",
            rule="unknown_task",
            loc=("body", "task"),
        )
    return task


def parse_schedule(expression: str, *, setting: str) -> CronSchedule | None:
    """The schedule of a setting; None when it is empty (the task only runs when asked)."""
    if not expression.strip():
        return None
    return CronSchedule.parse(expression, loc=("settings", setting))


def schedules(settings: Settings) -> dict[str, CronSchedule | None]:
    return {
        WEEKLY_RETRAINING: parse_schedule(settings.retrain_schedule, setting="retrain_schedule"),
        DRIFT_CHECK: parse_schedule(settings.drift_schedule, setting="drift_schedule"),
    }


def cron_runner(runtime: Runtime) -> CronRunner:
    settings = runtime.settings
    # One pacer for both: the fleet's retraining and the drift's together keep to the rate.
    pacer = Pacer(rate=settings.retrain_rate_per_second)
    retraining = RetrainingJob(
        training=runtime.training,
        models=ProductionModels(session_factory(runtime.engine)),
        pacer=pacer,
        window_hours=settings.retrain_window_hours,
        priority=settings.retrain_priority,
        batch_size=settings.retrain_batch_size,
    )
    drift = DriftReactionJob(
        check=runtime.drift_check,
        findings=runtime.drift_runs,
        catalog=runtime.catalog,
        training=runtime.training,
        notifier=runtime.notifier,
        pacer=pacer,
        check_window_hours=settings.drift_window_hours,
        retrain_window_hours=settings.retrain_window_hours,
        priority=settings.drift_retrain_priority,
        batch_size=settings.retrain_batch_size,
        max_alerts=settings.alert_max_per_run,
    )
    plans = schedules(settings)
    return CronRunner(
        runs=runtime.scheduler_runs,
        tasks=[
            CronTask(WEEKLY_RETRAINING, plans[WEEKLY_RETRAINING], retraining),
            CronTask(DRIFT_CHECK, plans[DRIFT_CHECK], drift),
        ],
    )


def scheduled_tasks(runtime: Runtime) -> list[PeriodicTask]:
    """The periodic tasks of this module, for the runtime's scheduler."""
    settings = runtime.settings
    runner = cron_runner(runtime)
    backlog = BacklogWatch(
        jobs=runtime.jobs, notifier=runtime.notifier, threshold=settings.backlog_alert_threshold
    )
    keep = settings.scheduler_runs_retention_days * SECONDS_PER_DAY
    return [
        PeriodicTask("scheduled_runs", RUNNER_TICK_SECONDS, runner.tick),
        PeriodicTask("training_backlog", settings.backlog_check_seconds, backlog.check),
        PeriodicTask(
            "prune_scheduler_runs",
            SECONDS_PER_HOUR,
            lambda: runtime.scheduler_runs.prune(finished_before=time.time() - keep),
        ),
    ]
