"""The scheduler loop: periodic tasks that only the leader runs, each at its own interval."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from seriesguard.observability.metrics import Metrics
from seriesguard.scheduler.leader import LeaderLock

log = logging.getLogger(__name__)


@dataclass
class PeriodicTask:
    name: str
    interval_seconds: float
    action: Callable[[], object]
    next_run: float = field(default=0.0)


class Scheduler:
    def __init__(
        self,
        *,
        lock: LeaderLock,
        tasks: list[PeriodicTask],
        tick_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        metrics: Metrics | None = None,
    ) -> None:
        """``metrics``: where runs, durations and leadership are counted (a private set,
        exported nowhere, when not given)."""
        self._lock = lock
        self._tasks = tasks
        self._tick = tick_seconds
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.is_leader = False
        metrics = metrics if metrics is not None else Metrics()
        self._runs = metrics.scheduler_runs
        self._duration = metrics.scheduler_duration
        self._leader_gauge = metrics.scheduler_is_leader

    def run_due(self) -> list[str]:
        """One tick: if leader, run every task whose time has come; returns their names."""
        leader = self._lock.try_acquire()
        if leader != self.is_leader:
            log.info("scheduler %s leadership", "took" if leader else "lost")
            self.is_leader = leader
        self._leader_gauge.set(1.0 if leader else 0.0)
        if not leader:
            return []
        ran = []
        now = self._clock()
        for task in self._tasks:
            if now < task.next_run:
                continue
            task.next_run = now + task.interval_seconds
            if self._run(task):
                ran.append(task.name)
        return ran

    def _run(self, task: PeriodicTask) -> bool:
        """Run one task, counted and timed; False when it failed."""
        start = time.perf_counter()
        try:
            task.action()
            # per run, at debug: shows which scheduler acts, and that only one does
            log.debug("ran scheduled task %s", task.name, extra={"task": task.name})
            outcome = "ok"
        except Exception:  # one failing task must not stop the others
            log.exception("scheduled task %s failed", task.name)
            outcome = "failed"
        self._duration.observe(time.perf_counter() - start, task.name)
        self._runs.inc(task.name, outcome)
        return outcome == "ok"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="scheduler", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.run_due()
            self._stop.wait(self._tick)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self._lock.release()
        self._leader_gauge.set(0.0)
