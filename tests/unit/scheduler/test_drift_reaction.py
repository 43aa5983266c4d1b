"""The drift reaction: a fleet check, then per drifted series a high-priority retraining and
an alert (at most alert_max_per_run, the rest in one summary); the backlog alert."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from tests.unit.scheduler.fakes import DOWN, NO_HISTORY, FakeClock, FakeRuns, FakeTraining

from seriesguard.core.catalog import ServingEntry
from seriesguard.core.jobs import JobStatus
from seriesguard.core.monitoring import DriftFinding, DriftRun
from seriesguard.notify import RecordingNotifier, Severity
from seriesguard.scheduler.backlog import BacklogWatch
from seriesguard.scheduler.cron_task import Pacer
from seriesguard.scheduler.drift_reaction import DriftReactionJob
from seriesguard.scheduler.runs import RunStatus, SchedulerRun


@dataclass
class FakeCheck:
    """A fleet check that "finds" the given findings; counts its runs."""

    found: list[DriftFinding]
    runs: list[str] = field(default_factory=list)

    def run(self, *, window_hours: int, triggered_by: str) -> DriftRun:
        self.runs.append(triggered_by)
        return DriftRun(
            id="drift-1",
            started_at=0.0,
            finished_at=1.0,
            window_seconds=window_hours * 3600,
            series_checked=1000,
            data_drifted=sum(f.kind == "data" for f in self.found),
            concept_drifted=sum(f.kind == "concept" for f in self.found),
            insufficient=0,
            status="succeeded",
            triggered_by=triggered_by,
        )

    def findings(self, *, run_id: str, limit: int, offset: int = 0) -> list[DriftFinding]:
        ordered = sorted(self.found, key=lambda f: (f.series_id, f.kind))
        return ordered[offset : offset + limit]


class FakeCatalog:
    def serving_entry(self, series_id: str) -> ServingEntry | None:
        if series_id.startswith("new"):
            return None
        return ServingEntry(
            series_id=series_id,
            version=3,
            algorithm="statistical",
            params={"mean": 0.0, "std": 1.0, "threshold_sigma": 5.0},
            revision=1,
        )


def finding(series: str, kind: str = "data") -> DriftFinding:
    return DriftFinding(
        series_id=series, version=3, kind=kind, statistic=0.9, threshold=0.2, sample_size=500
    )


def reaction(
    check: FakeCheck,
    training: FakeTraining,
    notifier: RecordingNotifier,
    clock: FakeClock,
    *,
    max_alerts: int = 50,
    batch: int = 100,
) -> DriftReactionJob:
    return DriftReactionJob(
        check=check,
        findings=check,
        catalog=FakeCatalog(),
        training=training,
        notifier=notifier,
        pacer=Pacer(rate=1000.0, clock=clock),
        check_window_hours=24,
        retrain_window_hours=168,
        priority=9,
        batch_size=batch,
        max_alerts=max_alerts,
    )


def run_to_end(job: DriftReactionJob, runs: FakeRuns, clock: FakeClock) -> SchedulerRun:
    run = runs.enqueue(task="drift_check", triggered_by="test")
    runs.start(run.id)
    for _ in range(1000):
        step = job.step(runs.rows[run.id])
        if step.done:
            runs.finish(
                run.id, status=RunStatus.SUCCEEDED, progress=step.progress, cursor=step.cursor
            )
            return runs.rows[run.id]
        runs.save(run.id, progress=step.progress, cursor=step.cursor)
        clock.advance(1.0)
    raise AssertionError("the run did not finish")


def test_each_drifted_series_is_retrained_at_high_priority_and_alerted_once() -> None:
    clock, runs, notifier = FakeClock(), FakeRuns(), RecordingNotifier()
    training = FakeTraining(clock=clock, errors={"c": NO_HISTORY})
    check = FakeCheck(
        [finding("a"), finding("a", "concept"), finding("b", "concept"), finding("c")]
    )
    done = run_to_end(reaction(check, training, notifier, clock, batch=1), runs, clock)
    assert len(check.runs) == 1  # the fleet is checked once per run, not per step
    assert training.series == ["a", "b"]
    assert {s.config.priority for s in training.submitted} == {9}
    assert {s.window_hours for s in training.submitted} == {168}
    assert dict(training.submitted[0].config.hyperparameters) == {"threshold_sigma": 5.0}
    alerts = notifier.of_kind("drift_detected")
    assert [a.series_id for a in alerts] == ["a", "b", "c"]
    assert [a.dedup_key for a in alerts] == ["drift:a", "drift:b", "drift:c"]
    assert alerts[0].severity is Severity.WARNING
    assert alerts[0].details["kinds"] == ["concept", "data"]  # both findings of "a", one alert
    assert alerts[0].details["job_id"] is not None and alerts[2].details["job_id"] is None
    progress = done.progress
    assert (progress["checked"], progress["drifted"], progress["retrained"]) == (1000, 3, 2)
    assert (progress["skipped_no_history"], progress["alerts"]) == (1, 3)
    assert progress["drift_run_id"] == "drift-1"


def test_alerts_beyond_the_maximum_are_summed_up_in_one() -> None:
    clock, runs, notifier = FakeClock(), FakeRuns(), RecordingNotifier()
    training = FakeTraining(clock=clock)
    check = FakeCheck([finding(f"s{i:03d}") for i in range(30)])
    done = run_to_end(
        reaction(check, training, notifier, clock, max_alerts=5, batch=7), runs, clock
    )
    assert len(training.submitted) == 30  # every drifted series is retrained
    alerts = notifier.of_kind("drift_detected")
    per_series = [a for a in alerts if a.series_id is not None]
    (summary,) = [a for a in alerts if a.series_id is None]
    assert len(per_series) == 5
    assert summary.details["series_not_alerted"] == 25
    assert summary.details["sample"][:2] == ["s005", "s006"]
    assert "25 more series" in summary.summary
    assert done.progress["alerts"] == 6 and done.progress["alerts_held_back"] == 25


def test_an_outage_mid_batch_resumes_without_alerting_twice() -> None:
    clock, runs, notifier = FakeClock(), FakeRuns(), RecordingNotifier()
    training = FakeTraining(clock=clock, errors={"b": DOWN})
    job = reaction(FakeCheck([finding("a"), finding("b")]), training, notifier, clock)
    run = runs.enqueue(task="drift_check", triggered_by="test")
    runs.start(run.id)
    for _ in range(2):  # the check, then a batch that stops at "b"
        step = job.step(runs.rows[run.id])
        runs.save(run.id, progress=step.progress, cursor=step.cursor)
    assert not step.done and json.loads(step.cursor or "")["offset"] == 1
    del training.errors["b"]
    step = job.step(runs.rows[run.id])
    assert step.done and training.series == ["a", "b"]
    assert [a.series_id for a in notifier.alerts] == ["a", "b"]


def test_a_stable_fleet_is_done_after_the_check() -> None:
    clock, notifier = FakeClock(), RecordingNotifier()
    job = reaction(FakeCheck([]), FakeTraining(clock=clock), notifier, clock)
    runs = FakeRuns()
    done = run_to_end(job, runs, clock)
    assert done.progress["drifted"] == 0 and notifier.alerts == []


@dataclass
class FakeJobs:
    queued: int

    def count_with_status(self, status: JobStatus) -> int:
        return self.queued if status is JobStatus.QUEUED else 0


def test_backlog_alerts_above_the_threshold_only() -> None:
    notifier, jobs = RecordingNotifier(), FakeJobs(queued=1000)
    watch = BacklogWatch(jobs=jobs, notifier=notifier, threshold=1000)
    assert watch.check() == 1000 and notifier.alerts == []
    jobs.queued = 1001
    assert watch.check() == 1001
    (alert,) = notifier.alerts
    assert (alert.kind, alert.severity, alert.key) == (
        "queue_backlog",
        Severity.ERROR,
        "queue_backlog",
    )
    assert alert.details == {"queued": 1001, "threshold": 1000}
