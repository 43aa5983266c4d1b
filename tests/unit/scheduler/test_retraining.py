"""The weekly retraining's steps: every production series once, with its production config,
batched and paced, counted by outcome, resumed from the cursor after a crash."""

from __future__ import annotations

from collections import Counter

from tests.unit.scheduler.fakes import (
    DOWN,
    NO_HISTORY,
    RATE_LIMITED,
    FakeClock,
    FakeModels,
    FakeRuns,
    FakeTraining,
    fleet,
)

from seriesguard.scheduler.cron_task import Pacer
from seriesguard.scheduler.production import ProductionModel
from seriesguard.scheduler.retraining import RetrainingJob
from seriesguard.scheduler.runs import RunStatus, SchedulerRun


def job(
    training: FakeTraining,
    models: FakeModels,
    clock: FakeClock,
    *,
    rate: float = 1000.0,
    batch: int = 10,
) -> RetrainingJob:
    return RetrainingJob(
        training=training,
        models=models,  # type: ignore[arg-type]
        pacer=Pacer(rate=rate, clock=clock),
        window_hours=168,
        priority=3,
        batch_size=batch,
    )


def run_to_end(
    retraining: RetrainingJob,
    runs: FakeRuns,
    run: SchedulerRun,
    clock: FakeClock,
    *,
    ticks: int = 1000,
) -> SchedulerRun:
    """Step like the runner does (save after each step) until done; one tick a second."""
    for _ in range(ticks):
        current = runs.rows[run.id]
        step = retraining.step(current)
        if step.done:
            runs.finish(
                run.id, status=RunStatus.SUCCEEDED, progress=step.progress, cursor=step.cursor
            )
            return runs.rows[run.id]
        runs.save(run.id, progress=step.progress, cursor=step.cursor)
        clock.advance(1.0)
    raise AssertionError("the run did not finish")


def started(runs: FakeRuns) -> SchedulerRun:
    run = runs.enqueue(task="weekly_retraining", triggered_by="test")
    runs.start(run.id)
    return runs.rows[run.id]


def test_every_production_series_is_submitted_once_with_its_production_config() -> None:
    clock, runs = FakeClock(), FakeRuns()
    training, models = FakeTraining(clock=clock), FakeModels(fleet(25, sigma=4.5))
    models.models.append(ProductionModel("zz-mad", 1, "zscore", {"mean": 0, "std": 1}))
    done = run_to_end(job(training, models, clock, batch=10), runs, started(runs), clock)
    assert sorted(training.series) == sorted(m.series_id for m in models.models)
    first = training.submitted[0]
    assert (first.window_hours, first.config.priority) == (168, 3)
    assert first.config.algorithm == "statistical"
    assert dict(first.config.hyperparameters) == {"threshold_sigma": 4.5}  # not mean, std
    assert dict(training.submitted[-1].config.hyperparameters) == {}
    assert done.progress["total"] == 26 and done.progress["submitted"] == 26
    assert done.progress["remaining"] == 0
    assert done.cursor == "zz-mad"
    assert models.pages == 3  # batches of 10, 10, 6: the short one ends the run


def test_outcomes_are_counted_and_one_failure_does_not_stop_the_fleet() -> None:
    clock, runs = FakeClock(), FakeRuns()
    training = FakeTraining(
        clock=clock,
        errors={"s0001": NO_HISTORY, "s0002": RATE_LIMITED, "s0003": ValueError("boom")},
    )
    done = run_to_end(job(training, FakeModels(fleet(6)), clock), runs, started(runs), clock)
    assert training.series == ["s0000", "s0004", "s0005"]
    progress = done.progress
    assert (progress["submitted"], progress["skipped_no_history"]) == (3, 1)
    assert (progress["skipped_rate_limited"], progress["failed"]) == (1, 1)
    assert "s0003" in progress["last_error"] and "boom" in progress["last_error"]


def test_a_crash_mid_run_resumes_from_the_saved_cursor() -> None:
    clock, runs = FakeClock(), FakeRuns()
    training, models = FakeTraining(clock=clock), FakeModels(fleet(50))
    run = started(runs)
    before = job(training, models, clock, batch=7)
    for _ in range(3):  # three batches saved, then the process dies
        step = before.step(runs.rows[run.id])
        runs.save(run.id, progress=step.progress, cursor=step.cursor)
        clock.advance(1.0)
    assert runs.rows[run.id].cursor == "s0020" and len(training.submitted) == 21
    after = job(training, models, clock, batch=7)  # a new leader, the run read back
    done = run_to_end(after, runs, run, clock)
    assert Counter(training.series) == Counter(m.series_id for m in models.models)  # once each
    assert done.progress["submitted"] == 50 and done.progress["remaining"] == 0


def test_an_outage_keeps_the_batch_done_so_far_and_retries_the_series() -> None:
    clock, runs = FakeClock(), FakeRuns()
    training = FakeTraining(clock=clock, errors={"s0003": DOWN})
    retraining = job(training, FakeModels(fleet(6)), clock)
    run = started(runs)
    step = retraining.step(run)
    assert not step.done and step.cursor == "s0002"
    assert step.progress["submitted"] == 3 and "down" in step.progress["waiting"]
    runs.save(run.id, progress=step.progress, cursor=step.cursor)
    del training.errors["s0003"]
    clock.advance(1.0)
    done = run_to_end(retraining, runs, run, clock)
    assert training.series == [f"s{i:04d}" for i in range(6)]
    assert "waiting" not in done.progress


def test_submits_keep_to_the_rate_in_every_second() -> None:
    clock, runs = FakeClock(0.0), FakeRuns()
    training = FakeTraining(clock=clock)
    retraining = job(training, FakeModels(fleet(60)), clock, rate=4.0, batch=200)
    run = started(runs)
    for _ in range(100):  # the scheduler ticks every 0.25 s
        step = retraining.step(runs.rows[run.id])
        runs.save(run.id, progress=step.progress, cursor=step.cursor)
        if step.done:
            break
        clock.advance(0.25)
    per_second = Counter(int(s.at) for s in training.submitted)
    assert len(training.submitted) == 60
    assert max(per_second.values()) == 4  # never more, and it does use the rate


def test_an_empty_fleet_is_done_at_once() -> None:
    clock, runs = FakeClock(), FakeRuns()
    step = job(FakeTraining(clock=clock), FakeModels([]), clock).step(started(runs))
    assert step.done and step.progress["total"] == 0 and step.progress["remaining"] == 0
