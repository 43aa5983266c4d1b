"""Cron tasks whose every run is recorded, advanced a step per scheduler tick.

:class:`CronRunner` is one periodic task of the :class:`~seriesguard.scheduler.service.Scheduler`
(so only the leader runs it). Each tick it

1. claims the due fire of every scheduled task: the latest fire at or before now that is
   later than the task's last recorded one. A scheduler that was down across several fires
   runs only the latest of them, once, when it is back (a week of missed drift checks is one
   check of the fleet as it is now, not 28). A fresh install has no recorded fire and waits
   for the next one. A fire that finds a run of its task still queued or running is
   recorded as ``skipped``.
2. starts runs queued through the API, and advances every running run by one step: a step
   does a bounded amount of work (a batch of series) and its progress and cursor are saved,
   so the other periodic tasks keep running between steps, and a new leader after a crash
   resumes from the cursor.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from seriesguard.core.cron import CronSchedule
from seriesguard.core.errors import Unavailable
from seriesguard.scheduler.runs import RunStatus, SchedulerRun, SchedulerRunRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """What one step of a run did: its progress so far, where to go on from, whether done."""

    progress: Mapping[str, Any]
    cursor: str | None
    done: bool = False


class RecordedJob(Protocol):
    def step(self, run: SchedulerRun) -> Step:
        """Do a bounded part of ``run`` (resumed from ``run.cursor``) and say how far it got.
        Raising fails the run, except :class:`Unavailable`: a backend outage, retried on the
        next tick."""
        ...


@dataclass
class CronTask:
    name: str
    schedule: CronSchedule | None  # None: runs only when asked for (the API)
    job: RecordedJob


@dataclass
class _FireState:
    last_fire: float  # the latest fire known to be taken (by anyone)
    next_fire: float  # the first fire after it


@dataclass
class CronRunner:
    runs: SchedulerRunRepository
    tasks: Sequence[CronTask]
    clock: Callable[[], float] = time.time  # wall clock: cron fires are calendar times
    _fires: dict[str, _FireState] = field(default_factory=dict)

    def tick(self) -> None:
        """One pass: claim due fires, then one step of every queued or running run."""
        active = self.runs.active()
        busy = {run.task for run in active}
        for task in self.tasks:
            if task.schedule is not None:
                claimed = self._fire_if_due(task, task.schedule, busy=task.name in busy)
                if claimed is not None and claimed.status is RunStatus.RUNNING:
                    active.append(claimed)
        by_name = {task.name: task for task in self.tasks}
        for run in active:
            known = by_name.get(run.task)
            if known is not None:  # a task this version does not know: left for one that does
                self._advance(known, run)

    def _fire_if_due(
        self, task: CronTask, schedule: CronSchedule, *, busy: bool
    ) -> SchedulerRun | None:
        now = self.clock()
        state = self._fires.get(task.name)
        if state is None:
            recorded = self.runs.latest_fire(task.name)
            # Fresh install: nothing was missed, the first fire is the next one.
            last = recorded if recorded is not None else schedule.previous_at_or_before(now)
            state = _FireState(last, schedule.next_after(last))
            self._fires[task.name] = state
        if now < state.next_fire:
            return None
        due = schedule.previous_at_or_before(now)  # missed fires before it are not run
        status = RunStatus.SKIPPED if busy else RunStatus.RUNNING
        claimed = self.runs.claim_fire(task=task.name, scheduled_for=due, status=status)
        self._fires[task.name] = _FireState(due, schedule.next_after(due))
        if claimed is None:
            log.info("fire %s of %s was taken by another scheduler", due, task.name)
        elif busy:
            log.warning("fire of %s skipped: its previous run is still going", task.name)
        else:
            log.info("%s started (fire %s, run %s)", task.name, due, claimed.id)
        return claimed

    def _advance(self, task: CronTask, run: SchedulerRun) -> None:
        if run.status is RunStatus.QUEUED:
            if not self.runs.start(run.id):
                return
            run = replace(run, status=RunStatus.RUNNING)
            log.info("%s started (asked for by %s, run %s)", task.name, run.triggered_by, run.id)
        try:
            step = task.job.step(run)
        except Unavailable as exc:  # the DB or a store is down: the run waits, not fails
            log.warning("%s run %s waits: %s", task.name, run.id, exc.message)
            return
        except Exception as exc:
            log.exception("%s run %s failed", task.name, run.id)
            self.runs.finish(
                run.id,
                status=RunStatus.FAILED,
                progress=run.progress,
                cursor=run.cursor,
                error=f"{type(exc).__name__}: {exc}",
            )
            return
        if step.done:
            self.runs.finish(
                run.id, status=RunStatus.SUCCEEDED, progress=step.progress, cursor=step.cursor
            )
            log.info("%s run %s succeeded: %s", task.name, run.id, dict(step.progress))
        else:
            self.runs.save(run.id, progress=step.progress, cursor=step.cursor)


class Pacer:
    """At most ``rate`` actions in each second of the clock (whole seconds: 20 a second means
    20 between 12:00:00 and 12:00:01, however the ticks fall). A fractional rate is spread
    exactly: 2.5 a second grants 2, 3, 2, 3 ...; 0.5 grants one every other second. Shared by
    the jobs that submit training, so all of them together keep to the rate; nothing sleeps,
    a tick takes what its second has left, and idle time banks nothing."""

    def __init__(self, *, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = rate
        self._clock = clock
        self._second: int | None = None
        self._used = 0

    def take(self, most: int) -> int:
        """How many actions may be done now, at most ``most``; they are counted as done."""
        second = math.floor(self._clock())
        if second != self._second:
            self._second, self._used = second, 0
        quota = math.floor(self._rate * (second + 1)) - math.floor(self._rate * second)
        granted = max(0, min(most, quota - self._used))
        self._used += granted
        return granted

    def give_back(self, unused: int) -> None:
        """Actions taken but not done (the fleet ended before the batch did)."""
        self._used = max(0, self._used - max(0, unused))
