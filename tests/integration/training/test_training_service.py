"""Training service on SQLite + the in-memory registry: submit, run, cancel, recover."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from tests.integration.training.recording_queue import RecordingQueue

from seriesguard.core.errors import Conflict, InvalidInput, RateLimited
from seriesguard.core.jobs import JobStatus
from seriesguard.core.validation import PointLimits
from seriesguard.registry.memory import MemoryRegistry
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade
from seriesguard.store.jobs import JobRepository
from seriesguard.training.data import LocalDataStore
from seriesguard.training.service import TrainingConfig, TrainingService


@pytest.fixture()
def parts(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    registry = MemoryRegistry()
    queue = RecordingQueue()
    jobs, catalog = JobRepository(sessions), CatalogRepository(sessions)
    service = TrainingService(
        jobs=jobs,
        catalog=catalog,
        registry=registry,
        queue=queue,
        data=LocalDataStore(tmp_path / "data"),
        limits=PointLimits(100, 1000),
        min_interval_seconds=300,
        retry_delay_seconds=0,
    )
    yield service, registry, queue, catalog
    engine.dispose()


def points(n: int = 200) -> tuple[list[float], list[float]]:
    rng = np.random.default_rng(7)
    return [1e9 + 60.0 * i for i in range(n)], rng.normal(5, 1, n).tolist()


def test_submit_then_run_registers_one_staging_version(parts) -> None:  # type: ignore[no-untyped-def]
    service, registry, queue, catalog = parts
    ts, vs = points()
    job = service.submit(series_id="s1", timestamps=ts, values=vs, config=TrainingConfig())
    assert queue.published == [job.id] and job.status is JobStatus.QUEUED
    service.run(job.id)
    service.run(job.id)  # redelivered: nothing happens twice
    done = service.get(job.id)
    assert done.status is JobStatus.COMPLETED and done.model_version == 1
    assert [v.version for v in registry.list_versions(series_id="s1")] == [1]
    assert catalog.get_series("s1").staging_version == 1  # type: ignore[union-attr]


def test_rate_limit_and_validation_leave_nothing_behind(parts, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    service, _registry, queue, _catalog = parts
    ts, vs = points()
    service.submit(series_id="s1", timestamps=ts, values=vs, config=TrainingConfig())
    with pytest.raises(RateLimited):
        service.submit(series_id="s1", timestamps=ts, values=vs, config=TrainingConfig())
    with pytest.raises(InvalidInput):
        service.submit(series_id="s2", timestamps=ts, values=vs, config=TrainingConfig(priority=11))
    assert len(queue.published) == 1
    assert len(list((tmp_path / "data").glob("*.npz"))) == 1


def test_cancel_wins_and_finished_job_is_409(parts) -> None:  # type: ignore[no-untyped-def]
    service, registry, _queue, _catalog = parts
    ts, vs = points()
    job = service.submit(series_id="s1", timestamps=ts, values=vs, config=TrainingConfig())
    assert service.cancel(job.id).status is JobStatus.CANCELLED
    service.run(job.id)
    assert registry.list_versions(series_id="s1") == []
    with pytest.raises(Conflict):
        service.cancel(job.id)


def test_registry_outage_requeues_then_completes(parts) -> None:  # type: ignore[no-untyped-def]
    service, registry, queue, _catalog = parts
    ts, vs = points()
    job = service.submit(series_id="s1", timestamps=ts, values=vs, config=TrainingConfig())
    registry.available = False
    for _ in range(8):  # a long outage: the job waits, it never fails for it
        service.run(job.id)
        assert service.get(job.id).status is JobStatus.QUEUED
    assert "waiting for a backend" in (service.get(job.id).error or "")
    assert queue.published == [job.id] * 9
    registry.available = True
    service.run(job.id)
    assert service.get(job.id).status is JobStatus.COMPLETED


def test_recover_republishes_unfinished(parts) -> None:  # type: ignore[no-untyped-def]
    service, _registry, queue, _catalog = parts
    ts, vs = points()
    first = service.submit(series_id="a", timestamps=ts, values=vs, config=TrainingConfig())
    second = service.submit(series_id="b", timestamps=ts, values=vs, config=TrainingConfig())
    service._jobs.claim(first.id)  # a crash mid-job leaves it processing
    queue.published.clear()
    assert service.recover() == 2
    assert sorted(queue.published) == sorted([first.id, second.id])
    threads = [threading.Thread(target=service.run, args=(j,)) for j in queue.published * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {service.get(j).status for j in (first.id, second.id)} == {JobStatus.COMPLETED}


def test_reconcile_republishes_lost_and_abandoned_jobs(parts) -> None:  # type: ignore[no-untyped-def]
    service, _registry, queue, _catalog = parts
    ts, vs = points()
    lost = service.submit(series_id="lost", timestamps=ts, values=vs, config=TrainingConfig())
    abandoned = service.submit(series_id="dead", timestamps=ts, values=vs, config=TrainingConfig())
    service._jobs.claim(abandoned.id)  # its worker dies here
    queue.published.clear()
    assert service.reconcile(queued_for=3600, processing_lease=3600) == 0  # nothing stale yet
    assert queue.published == []
    time.sleep(0.05)
    assert service.reconcile(queued_for=0.01, processing_lease=0.01) == 2
    assert sorted(queue.published) == sorted([lost.id, abandoned.id])
    assert service.get(abandoned.id).status is JobStatus.QUEUED
    for job_id in queue.published:
        service.run(job_id)
    assert service.get(lost.id).status is JobStatus.COMPLETED


def test_a_superseded_worker_neither_registers_nor_deletes(parts) -> None:  # type: ignore[no-untyped-def]
    """A worker that outlived its lease must leave the job to the worker that took it over:
    no second registration, and above all no deleting the version the new owner registered."""
    service, registry, _queue, _catalog = parts
    ts, vs = points()
    job = service.submit(series_id="lease", timestamps=ts, values=vs, config=TrainingConfig())
    slow = service._jobs.claim(job.id)  # worker A claims, then stalls past its lease
    time.sleep(0.02)
    service.reconcile(queued_for=3600, processing_lease=0.01)  # handed back
    fresh = service._jobs.claim(job.id)  # worker B takes it over
    register = registry.register

    def a_wakes_up_while_b_registers(record):  # type: ignore[no-untyped-def]
        registry.register = register
        service._train(slow)  # worker A runs to its end in the middle of B's job
        return register(record)

    registry.register = a_wakes_up_while_b_registers
    service._train(fresh)
    assert [v.job_id for v in registry.list_versions(series_id="lease")] == [job.id]
    assert service.get(job.id).status is JobStatus.COMPLETED
    assert service.get(job.id).attempts == 2


def test_reconcile_leaves_queued_jobs_alone_while_the_broker_has_a_backlog(parts) -> None:  # type: ignore[no-untyped-def]
    """Old queued jobs behind a backlog are waiting, not lost: no duplicate messages."""
    service, _registry, queue, _catalog = parts
    ts, vs = points()
    waiting = service.submit(series_id="w", timestamps=ts, values=vs, config=TrainingConfig())
    time.sleep(0.05)
    assert queue.published == [waiting.id]  # its message is still in the broker
    assert service.reconcile(queued_for=0.01, processing_lease=3600) == 0
    assert queue.published == [waiting.id]
    queue.published.clear()  # the broker lost it (or it was never published)
    assert service.reconcile(queued_for=0.01, processing_lease=3600) == 1
    assert queue.published == [waiting.id]
