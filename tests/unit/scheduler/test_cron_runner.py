"""The cron runner on a fake clock: a fire runs once, a missed fire once at start, a busy task
skips, triggered runs start on the next tick, a step that fails fails its run, only the leader
acts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from tests.unit.scheduler.fakes import FakeClock, FakeRuns

from seriesguard.core.cron import CronSchedule
from seriesguard.core.errors import Unavailable
from seriesguard.scheduler.cron_task import CronRunner, CronTask, Pacer, Step
from seriesguard.scheduler.leader import LeaderLock
from seriesguard.scheduler.runs import SCHEDULE, RunStatus, SchedulerRun
from seriesguard.scheduler.service import PeriodicTask, Scheduler

WEEKLY = CronSchedule.parse("0 2 * * 0")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


@dataclass
class CountingJob:
    """Done after ``steps`` steps; records the runs it stepped."""

    steps: int = 1
    stepped: list[str] = field(default_factory=list)
    error: Exception | None = None

    def step(self, run: SchedulerRun) -> Step:
        if self.error is not None:
            raise self.error
        self.stepped.append(run.id)
        done_so_far = int(run.progress.get("steps", 0)) + 1
        return Step({"steps": done_so_far}, cursor=str(done_so_far), done=done_so_far >= self.steps)


def runner(runs: FakeRuns, clock: FakeClock, job: CountingJob) -> CronRunner:
    return CronRunner(runs=runs, tasks=[CronTask("weekly", WEEKLY, job)], clock=clock)  # type: ignore[arg-type]


def test_a_fire_runs_once_on_time_and_a_fresh_install_waits_for_it() -> None:
    runs, clock, job = FakeRuns(), FakeClock(at("2024-05-18T23:59:00")), CountingJob()
    cron = runner(runs, clock, job)
    cron.tick()
    assert runs.rows == {}  # a fresh install: last Sunday's fire was not "missed"
    clock.now = at("2024-05-19T02:00:05")
    cron.tick()
    clock.advance(1)
    cron.tick()
    (run,) = runs.of("weekly")
    assert run.scheduled_for == at("2024-05-19T02:00:00")
    assert run.triggered_by == SCHEDULE
    assert run.status is RunStatus.SUCCEEDED and job.stepped == [run.id]


def test_two_runners_share_a_fire_only_one_runs_it() -> None:
    runs, clock = FakeRuns(), FakeClock(at("2024-05-19T01:59:00"))
    jobs = [CountingJob(), CountingJob()]
    runners = [runner(runs, clock, job) for job in jobs]
    for cron in runners:
        cron.tick()
    clock.now = at("2024-05-19T02:00:00")
    for cron in runners:
        cron.tick()
    assert len(runs.of("weekly")) == 1
    assert sorted(len(job.stepped) for job in jobs) == [0, 1]


def test_missed_fires_run_once_the_latest_at_start() -> None:
    runs, clock, job = FakeRuns(), FakeClock(), CountingJob()
    runs.claim_fire(task="weekly", scheduled_for=at("2024-05-05T02:00:00"))  # ran that Sunday
    # down for three Sundays, back on a Tuesday: one run, for the latest fire
    clock.now = at("2024-05-28T10:00:00")
    restarted = runner(runs, clock, job)
    restarted.tick()
    restarted.tick()
    fires = [r.scheduled_for for r in runs.of("weekly")]
    assert fires == [at("2024-05-05T02:00:00"), at("2024-05-26T02:00:00")]
    clock.advance(3600)
    restarted.tick()
    assert len(runs.of("weekly")) == 2  # nothing more until next Sunday
    clock.now = at("2024-06-02T02:00:30")
    restarted.tick()
    assert runs.of("weekly")[-1].scheduled_for == at("2024-06-02T02:00:00")


def test_a_fire_while_the_task_is_still_running_is_recorded_as_skipped() -> None:
    runs, clock = FakeRuns(), FakeClock(at("2024-05-19T01:00:00"))
    job = CountingJob(steps=1_000)
    cron = runner(runs, clock, job)
    cron.tick()
    clock.now = at("2024-05-19T02:00:00")
    cron.tick()
    clock.now = at("2024-05-26T02:00:00")  # a week later the first is still going
    cron.tick()
    first, second = runs.of("weekly")
    assert first.status is RunStatus.RUNNING and first.progress == {"steps": 2}
    assert second.status is RunStatus.SKIPPED and second.finished_at is not None


def test_a_triggered_run_starts_on_the_next_tick_and_steps_until_done() -> None:
    runs, clock = FakeRuns(), FakeClock(at("2024-05-15T12:00:00"))
    job = CountingJob(steps=3)
    cron = runner(runs, clock, job)
    queued = runs.enqueue(task="weekly", triggered_by="alice")
    assert runs.rows[queued.id].status is RunStatus.QUEUED
    cron.tick()
    assert runs.rows[queued.id].status is RunStatus.RUNNING
    assert runs.rows[queued.id].cursor == "1"
    cron.tick()
    cron.tick()
    done = runs.rows[queued.id]
    assert done.status is RunStatus.SUCCEEDED and done.progress == {"steps": 3}
    assert done.triggered_by == "alice" and done.scheduled_for is None
    assert job.stepped == [queued.id] * 3


def test_a_step_that_raises_fails_the_run_but_an_outage_only_waits() -> None:
    runs, clock = FakeRuns(), FakeClock(at("2024-05-15T12:00:00"))
    job = CountingJob(error=Unavailable("database down"))
    cron = runner(runs, clock, job)
    run = runs.enqueue(task="weekly", triggered_by="alice")
    cron.tick()
    assert runs.rows[run.id].status is RunStatus.RUNNING
    job.error = ValueError("a bug")
    cron.tick()
    failed = runs.rows[run.id]
    assert failed.status is RunStatus.FAILED and failed.error == "ValueError: a bug"


def test_a_run_of_an_unknown_task_is_left_alone() -> None:
    runs, clock = FakeRuns(), FakeClock(at("2024-05-15T12:00:00"))
    cron = runner(runs, clock, CountingJob())
    run = runs.enqueue(task="from_a_newer_version", triggered_by="x")
    cron.tick()
    assert runs.rows[run.id].status is RunStatus.QUEUED


class SharedLock(LeaderLock):
    """One holder among the locks built on the same ``holder`` list."""

    def __init__(self, holder: list[object]) -> None:
        self._holder = holder

    def try_acquire(self) -> bool:
        if not self._holder:
            self._holder.append(self)
        return self._holder[0] is self

    def release(self) -> None:
        if self._holder and self._holder[0] is self:
            self._holder.clear()


def test_only_the_leader_runs_the_cron_tasks() -> None:
    runs, clock, holder = FakeRuns(), FakeClock(at("2024-05-19T01:59:00")), list[object]()
    jobs = [CountingJob(), CountingJob()]
    schedulers = [
        Scheduler(
            lock=SharedLock(holder),
            tasks=[PeriodicTask("scheduled_runs", 1.0, runner(runs, clock, job).tick)],
            clock=clock,
        )
        for job in jobs
    ]
    for scheduler in schedulers:
        scheduler.run_due()
    clock.now = at("2024-05-19T02:00:00")
    for scheduler in schedulers:
        scheduler.run_due()
    assert [len(job.stepped) for job in jobs] == [1, 0]
    assert [s.is_leader for s in schedulers] == [True, False]


def test_pacer_never_grants_more_than_the_rate_in_a_second() -> None:
    clock = FakeClock(0.0)
    pacer = Pacer(rate=4.0, clock=clock)
    per_second: dict[int, int] = {}
    for _ in range(40):  # ticks every 0.3 s, each asking for a batch of 100
        per_second[int(clock.now)] = per_second.get(int(clock.now), 0) + pacer.take(100)
        clock.advance(0.3)
    assert max(per_second.values()) <= 4
    assert sum(per_second.values()) >= 4 * 11  # and it does keep to the rate
    idle = Pacer(rate=4.0, clock=clock)
    idle.take(100)
    clock.advance(3600)  # an hour idle banks one second's worth, not an hour's
    assert idle.take(100) == 4


def test_pacer_spreads_a_fractional_rate_exactly() -> None:
    clock = FakeClock(100.0)
    pacer = Pacer(rate=2.5, clock=clock)
    granted = []
    for _ in range(10):
        granted.append(pacer.take(100))
        clock.advance(1.0)
    assert sum(granted) == 25 and set(granted) == {2, 3}
    slow = Pacer(rate=0.5, clock=clock)
    every_other = []
    for _ in range(10):
        every_other.append(slow.take(100))
        clock.advance(1.0)
    assert every_other in ([0, 1] * 5, [1, 0] * 5)
