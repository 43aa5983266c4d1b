"""SchedulerRunRepository and ProductionModels on SQLite and PostgreSQL: a fire is claimed
once, a triggered run is queued once, runs move queued -> running -> finished, pages,
pruning; and two cron runners on one database run a fire once."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine

from seriesguard.core.catalog import ModelVersion
from seriesguard.core.cron import CronSchedule
from seriesguard.core.errors import Conflict
from seriesguard.core.stages import Stage
from seriesguard.scheduler.cron_task import CronRunner, CronTask, Step
from seriesguard.scheduler.production import ProductionModels
from seriesguard.scheduler.runs import RunStatus, SchedulerRun, SchedulerRunRepository
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import SessionFactory, session_factory


@pytest.fixture()
def runs(sessions: SessionFactory) -> SchedulerRunRepository:
    return SchedulerRunRepository(sessions)


def test_a_fire_is_claimed_once(runs: SchedulerRunRepository) -> None:
    first = runs.claim_fire(task="weekly_retraining", scheduled_for=1000.0)
    assert first is not None and first.status is RunStatus.RUNNING
    assert runs.claim_fire(task="weekly_retraining", scheduled_for=1000.0) is None
    other_task = runs.claim_fire(task="drift_check", scheduled_for=1000.0)
    assert other_task is not None
    skipped = runs.claim_fire(task="drift_check", scheduled_for=2000.0, status=RunStatus.SKIPPED)
    assert skipped is not None and skipped.finished_at is not None
    assert runs.latest_fire("drift_check") == 2000.0
    assert runs.latest_fire("never_ran") is None


def test_a_triggered_run_is_queued_once_per_task(runs: SchedulerRunRepository) -> None:
    queued = runs.enqueue(task="drift_check", triggered_by="alice")
    assert queued.status is RunStatus.QUEUED and queued.scheduled_for is None
    with pytest.raises(Conflict) as caught:
        runs.enqueue(task="drift_check", triggered_by="bob")
    assert caught.value.rule == "run_in_progress" and queued.id in caught.value.message
    runs.enqueue(task="weekly_retraining", triggered_by="bob")  # another task is free
    assert runs.start(queued.id) and not runs.start(queued.id)  # compare-and-set
    with pytest.raises(Conflict):  # running counts as busy too
        runs.enqueue(task="drift_check", triggered_by="bob")
    runs.finish(queued.id, status=RunStatus.SUCCEEDED, progress={"checked": 3})
    again = runs.enqueue(task="drift_check", triggered_by="bob")
    assert again.id != queued.id
    # a triggered run does not count as a cron fire
    assert runs.latest_fire("drift_check") is None


def test_progress_and_finish_are_saved(runs: SchedulerRunRepository) -> None:
    run = runs.claim_fire(task="weekly_retraining", scheduled_for=1.0)
    assert run is not None
    runs.save(run.id, progress={"submitted": 200, "remaining": 9}, cursor="s0199")
    saved = runs.get(run.id)
    assert saved is not None and saved.progress == {"submitted": 200, "remaining": 9}
    assert saved.cursor == "s0199" and [r.id for r in runs.active()] == [run.id]
    runs.finish(run.id, status=RunStatus.FAILED, error="x" * 5000, cursor="s0199")
    failed = runs.get(run.id)
    assert failed is not None and failed.status is RunStatus.FAILED
    assert failed.progress == {"submitted": 200, "remaining": 9}  # kept when not given
    assert failed.error is not None and len(failed.error) == 4000
    assert failed.finished_at is not None and runs.active() == []
    runs.save(run.id, progress={}, cursor=None)  # a finished run is not written any more
    assert runs.get(run.id) == failed
    assert runs.get("no-such-run") is None


def test_list_filters_pages_and_counts(runs: SchedulerRunRepository) -> None:
    for fire in range(5):
        runs.claim_fire(task="drift_check", scheduled_for=float(fire))
        time.sleep(0.002)  # started_at orders them
    runs.enqueue(task="weekly_retraining", triggered_by="alice")
    page, total = runs.list_runs(task="drift_check", status=None, limit=2, offset=1)
    assert total == 5 and [r.scheduled_for for r in page] == [3.0, 2.0]
    queued, total = runs.list_runs(task=None, status=RunStatus.QUEUED, limit=10, offset=0)
    assert total == 1 and queued[0].task == "weekly_retraining"
    latest = runs.latest("drift_check")
    assert latest is not None and latest.scheduled_for == 4.0


def test_prune_deletes_old_finished_runs_only(runs: SchedulerRunRepository) -> None:
    old = runs.claim_fire(task="drift_check", scheduled_for=1.0)
    running = runs.claim_fire(task="weekly_retraining", scheduled_for=1.0)
    assert old is not None and running is not None
    runs.finish(old.id, status=RunStatus.SUCCEEDED)
    assert runs.prune(finished_before=time.time() - 3600) == 0
    assert runs.prune(finished_before=time.time() + 1) == 1
    assert runs.get(old.id) is None and runs.get(running.id) is not None


def test_production_models_page_by_series_id(sessions: SessionFactory) -> None:
    catalog = CatalogRepository(sessions)
    params = {"mean": 0.0, "std": 1.0, "threshold_sigma": 4.0}
    versions = [
        ModelVersion(
            series_id=f"s{i:02d}",
            version=1,
            stage=Stage.PRODUCTION if i % 3 else Stage.STAGING,
            algorithm="statistical",
            params=params,
        )
        for i in range(10)
    ]
    catalog.add_new_series(versions, stats=[None] * len(versions))
    models = ProductionModels(sessions)
    assert models.count() == 6
    first = models.page(after="", limit=4)
    assert [m.series_id for m in first] == ["s01", "s02", "s04", "s05"]
    assert first[0].params == params and first[0].algorithm == "statistical"
    rest = models.page(after=first[-1].series_id, limit=4)
    assert [m.series_id for m in rest] == ["s07", "s08"]
    assert models.page(after="s08", limit=4) == [] and models.page(after="", limit=0) == []


class OneStep:
    def __init__(self) -> None:
        self.stepped: list[str] = []

    def step(self, run: SchedulerRun) -> Step:
        self.stepped.append(run.id)
        return Step({"done": 1}, cursor=None, done=True)


def test_two_runners_on_one_database_run_a_fire_once(engine: Engine) -> None:
    """Two scheduler processes' worth (two session factories), a fire each sees due."""
    sunday = datetime(2024, 5, 19, 2, 0, 30, tzinfo=UTC).timestamp()
    clock = [sunday - 3600]
    jobs = [OneStep(), OneStep()]
    runners = [
        CronRunner(
            runs=SchedulerRunRepository(session_factory(engine)),
            tasks=[CronTask("weekly_retraining", CronSchedule.parse("0 2 * * 0"), job)],
            clock=lambda: clock[0],
        )
        for job in jobs
    ]
    for runner in runners:
        runner.tick()
    clock[0] = sunday
    for runner in runners:
        runner.tick()
    repository = SchedulerRunRepository(session_factory(engine))
    recorded, total = repository.list_runs(
        task="weekly_retraining", status=None, limit=10, offset=0
    )
    assert total == 1 and recorded[0].status is RunStatus.SUCCEEDED
    assert sorted(len(job.stepped) for job in jobs) == [0, 1]
