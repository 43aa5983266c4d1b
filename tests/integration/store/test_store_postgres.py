"""The same migrations and repositories on PostgreSQL (127.0.0.1:5432, trust auth): the
production metadata DB needs no migration of its own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from tests.integration.postgres import fresh_database

from seriesguard.core.catalog import ModelVersion, SeriesStats
from seriesguard.core.jobs import Job, JobStatus
from seriesguard.core.stages import Stage
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade
from seriesguard.store.jobs import JobRepository

pytestmark = pytest.mark.integration


@pytest.fixture()
def database() -> Iterator[str]:
    yield from fresh_database()


def test_migrations_and_repositories_on_postgres(database: str) -> None:
    engine = create_db_engine(database)
    upgrade(engine)
    upgrade(engine)
    sessions = session_factory(engine)
    jobs, catalog = JobRepository(sessions), CatalogRepository(sessions)
    now = time.time()
    job = Job(
        id=str(uuid.uuid4()),
        series_id="pg-1",
        status=JobStatus.QUEUED,
        priority=5,
        algorithm="statistical",
        hyperparameters={"threshold_sigma": 3.0},
        n_points=10,
        data_path="/d",
        created_at=now,
        updated_at=now,
    )
    jobs.create(job, min_interval_seconds=300)
    assert jobs.claim(job.id) is not None and jobs.claim(job.id) is None
    version = ModelVersion(
        series_id="pg-1",
        version=1,
        stage=Stage.STAGING,
        algorithm="statistical",
        params={"mean": 1.0, "std": 2.0, "threshold_sigma": 3.0},
        metrics={"mean": 1.0},
        job_id=job.id,
        created_at=now,
    )
    catalog.record_version(version, stats=SeriesStats(mean=1.0, std=2.0, n_points=10))
    catalog.set_stage(series_id="pg-1", version=1, stage=Stage.PRODUCTION)
    entry = catalog.serving_entry("pg-1")
    assert entry is not None and entry.params == version.params
    assert jobs.get(job.id).hyperparameters == {"threshold_sigma": 3.0}  # type: ignore[union-attr]
    engine.dispose()
