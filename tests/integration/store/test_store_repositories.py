"""Job and catalog repositories on a real SQLite file, migrated by Alembic."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import inspect

from seriesguard.core.catalog import ModelVersion, SeriesStats
from seriesguard.core.errors import RateLimited
from seriesguard.core.jobs import Job, JobStatus
from seriesguard.core.stages import Stage
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade
from seriesguard.store.jobs import JobRepository


@pytest.fixture()
def sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    upgrade(engine)
    upgrade(engine)  # idempotent: every start runs it
    yield session_factory(engine)
    engine.dispose()


def make_job(job_id: str, series: str = "s1", *, priority: int = 5, at: float | None = None) -> Job:
    now = at if at is not None else time.time()
    return Job(
        id=job_id,
        series_id=series,
        status=JobStatus.QUEUED,
        priority=priority,
        algorithm="statistical",
        hyperparameters={},
        n_points=10,
        data_path="/x",
        created_at=now,
        updated_at=now,
    )


def test_migrations_create_the_tables(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(engine)
    names = set(inspect(engine).get_table_names())
    assert {"training_jobs", "series", "model_versions", "alembic_version"} <= names


def test_rate_limit_per_series(sessions) -> None:  # type: ignore[no-untyped-def]
    jobs = JobRepository(sessions)
    jobs.create(make_job("a", at=1000.0), min_interval_seconds=300)
    with pytest.raises(RateLimited) as caught:
        jobs.create(make_job("b", at=1100.0), min_interval_seconds=300)
    assert caught.value.retry_after == pytest.approx(200.0)
    jobs.create(make_job("c", series="s2", at=1100.0), min_interval_seconds=300)
    jobs.create(make_job("d", at=1301.0), min_interval_seconds=300)
    assert jobs.get("b") is None


def test_claim_and_transitions_are_compare_and_set(sessions) -> None:  # type: ignore[no-untyped-def]
    jobs = JobRepository(sessions)
    jobs.create(make_job("a"), min_interval_seconds=0)
    claimed = jobs.claim("a")
    assert claimed is not None and claimed.status is JobStatus.PROCESSING and claimed.attempts == 1
    assert jobs.claim("a") is None  # a redelivery does not train twice
    assert jobs.transition("a", source={JobStatus.PROCESSING}, target=JobStatus.CANCELLED)
    assert not jobs.transition("a", source={JobStatus.PROCESSING}, target=JobStatus.COMPLETED)
    assert jobs.get("a").status is JobStatus.CANCELLED  # type: ignore[union-attr]


def test_listing_filters_and_unfinished_order(sessions) -> None:  # type: ignore[no-untyped-def]
    jobs = JobRepository(sessions)
    for index, priority in enumerate([1, 9, 5]):
        jobs.create(
            make_job(f"j{index}", series=f"s{index}", priority=priority), min_interval_seconds=0
        )
    jobs.claim("j2")
    page, total = jobs.list_jobs(status=JobStatus.QUEUED, limit=1)
    assert total == 2 and len(page) == 1
    assert [j.id for j in jobs.unfinished()] == ["j1", "j2", "j0"]
    assert jobs.count_by_status() == {"queued": 2, "processing": 1}


def version(number: int, stage: Stage = Stage.STAGING) -> ModelVersion:
    return ModelVersion(
        series_id="s1",
        version=number,
        stage=stage,
        algorithm="statistical",
        params={"mean": float(number), "std": 1.0, "threshold_sigma": 3.0},
        metrics={"mean": float(number)},
        job_id=f"job{number}",
        created_at=time.time(),
    )


def test_catalog_follows_stages_and_bumps_revisions(sessions) -> None:  # type: ignore[no-untyped-def]
    catalog = CatalogRepository(sessions)
    catalog.record_version(version(1), stats=SeriesStats(mean=1.0, std=1.0, n_points=10))
    catalog.record_version(version(2), stats=SeriesStats(mean=2.0, std=1.0, n_points=10))
    summary = catalog.get_series("s1")
    assert (
        summary is not None and summary.staging_version == 2 and summary.production_version is None
    )
    assert summary.stats is not None and summary.stats.mean == 2.0
    start = summary.revision
    catalog.set_stage(series_id="s1", version=1, stage=Stage.PRODUCTION)
    entry = catalog.serving_entry("s1")
    assert entry is not None and entry.version == 1 and entry.params["mean"] == 1.0
    changes = catalog.changes_since(start)
    assert [c.series_id for c in changes] == ["s1"] and changes[0].entry is not None
    catalog.set_stage(series_id="s1", version=1, stage=Stage.ARCHIVED)
    assert catalog.serving_entry("s1") is None
    assert catalog.changes_since(changes[0].revision)[0].entry is None
    assert [v.stage for v in catalog.list_versions("s1")] == [Stage.ARCHIVED, Stage.STAGING]
    before = catalog.get_series("s1").revision  # type: ignore[union-attr]
    assert catalog.touch("s1") and not catalog.touch("nobody")
    assert [c.series_id for c in catalog.changes_since(before)] == ["s1"]  # predictors reload
    catalog.remove_version(series_id="s1", version=2)
    assert catalog.get_series("s1").staging_version is None  # type: ignore[union-attr]
