"""Processing lease and takeover: a worker that heartbeats keeps its job however long it
trains; one that stopped heartbeating loses it after the lease; and after a takeover the old
and the new worker never both register a version (per-job lock, here on PostgreSQL with one
engine per worker, as two processes would have)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Engine, text
from tests.integration.postgres import fresh_database
from tests.integration.training.recording_queue import RecordingQueue

from seriesguard.core.jobs import JobStatus
from seriesguard.core.validation import PointLimits
from seriesguard.queue.base import JobQueue
from seriesguard.registry.base import RegisteredVersion, TrainingRecord
from seriesguard.registry.memory import MemoryRegistry
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade
from seriesguard.store.jobs import JobRepository
from seriesguard.training.data import LocalDataStore
from seriesguard.training.heartbeat import Heartbeat
from seriesguard.training.service import TrainingConfig, TrainingService

pytestmark = pytest.mark.integration
BEAT = 0.05  # heartbeat of these tests; the lease is 20 beats, so a slow beat never matters
LEASE = 1.0


class GatedRegistry(MemoryRegistry):
    """Holds every registration that gets past the find-by-job check at a gate, as an MLflow
    registration (search, then create) can be caught between its two steps. ``created``
    counts them: two for one job would be two versions in MLflow."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.created: list[str] = []

    def register(self, record: TrainingRecord) -> RegisteredVersion:
        if not record.first_attempt:
            found = self.find_by_job(series_id=record.series_id, job_id=record.job_id)
            if found is not None:
                return found
        self.created.append(record.job_id)
        assert self.gate.wait(30), "the test never opened the gate"
        return super().register(record)


@dataclass
class Worker:
    """One worker's view: its own engine and repositories, the shared registry and data."""

    engine: Engine
    jobs: JobRepository
    service: TrainingService


def make_worker(url: str, registry: MemoryRegistry, data: Path, queue: JobQueue) -> Worker:
    engine = create_db_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    jobs = JobRepository(sessions)
    service = TrainingService(
        jobs=jobs,
        catalog=CatalogRepository(sessions),
        registry=registry,
        queue=queue,
        data=LocalDataStore(data),
        limits=PointLimits(100, 1000),
        min_interval_seconds=0,
        retry_delay_seconds=0,
        heartbeat=Heartbeat(jobs=jobs, interval_seconds=BEAT),
    )
    return Worker(engine=engine, jobs=jobs, service=service)


def points(n: int = 200) -> tuple[list[float], list[float]]:
    return [1e9 + 60.0 * i for i in range(n)], np.random.default_rng(5).normal(5, 1, n).tolist()


def submit(worker: Worker, series_id: str) -> str:
    ts, vs = points()
    job = worker.service.submit(
        series_id=series_id, timestamps=ts, values=vs, config=TrainingConfig()
    )
    return job.id


def wait_for(condition: Callable[[], bool], *, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture()
def sqlite_worker(tmp_path: Path) -> Iterator[tuple[Worker, GatedRegistry, RecordingQueue]]:
    registry, queue = GatedRegistry(), RecordingQueue()
    worker = make_worker(f"sqlite:///{tmp_path / 'meta.db'}", registry, tmp_path / "d", queue)
    yield worker, registry, queue
    worker.service._heartbeat.stop()  # type: ignore[union-attr]
    registry.gate.set()
    worker.engine.dispose()


def test_a_heartbeating_job_outlives_the_lease(sqlite_worker) -> None:  # type: ignore[no-untyped-def]
    worker, registry, queue = sqlite_worker
    job_id = submit(worker, "long")
    heartbeat = worker.service._heartbeat
    heartbeat.start()
    running = threading.Thread(target=worker.service.run, args=(job_id,))
    running.start()
    wait_for(lambda: registry.created == [job_id], what="the job to reach registration")
    queue.published.clear()
    watched_until = time.monotonic() + 2.5 * LEASE  # training lasts well past the lease
    while time.monotonic() < watched_until:
        assert worker.service.reconcile(queued_for=3600, processing_lease=LEASE) == 0
        time.sleep(LEASE / 10)
    registry.gate.set()
    running.join(30)
    done = worker.service.get(job_id)
    assert done.status is JobStatus.COMPLETED and done.attempts == 1
    assert queue.published == []


def test_a_job_whose_worker_stopped_heartbeating_is_taken_over(sqlite_worker) -> None:  # type: ignore[no-untyped-def]
    worker, registry, queue = sqlite_worker
    job_id = submit(worker, "hung")
    running = threading.Thread(target=worker.service.run, args=(job_id,))
    running.start()  # no heartbeat thread: this worker is hung (or partitioned)
    wait_for(lambda: registry.created == [job_id], what="the job to reach registration")
    queue.published.clear()
    wait_for(
        lambda: worker.service.reconcile(queued_for=3600, processing_lease=LEASE) == 1,
        what="the lease to run out",
    )
    assert queue.published == [job_id]
    assert worker.service.get(job_id).status is JobStatus.QUEUED
    registry.gate.set()  # the hung worker wakes up: its finish is fenced out
    running.join(30)
    assert worker.service.get(job_id).status is JobStatus.QUEUED
    worker.service.run(job_id)  # the new owner finds the version the old one left
    done = worker.service.get(job_id)
    assert done.status is JobStatus.COMPLETED and done.attempts == 2
    assert [v.job_id for v in registry.list_versions(series_id="hung")] == [job_id]


def test_heartbeat_renews_only_jobs_still_ours(sqlite_worker) -> None:  # type: ignore[no-untyped-def]
    worker, _registry, _queue = sqlite_worker
    kept, cancelled = submit(worker, "kept"), submit(worker, "cancelled")
    heartbeat = Heartbeat(jobs=worker.jobs, interval_seconds=3600)  # beats by hand
    claimed = [worker.jobs.claim(j) for j in (kept, cancelled)]
    with heartbeat.holding(claimed[0]), heartbeat.holding(claimed[1]):  # type: ignore[arg-type]
        worker.service.cancel(cancelled)
        before = worker.service.get(kept).updated_at
        time.sleep(0.01)
        heartbeat.beat()
        assert worker.service.get(kept).updated_at > before
        assert heartbeat.in_hand() == {kept: 1}  # the cancelled job is no longer renewed
    assert heartbeat.in_hand() == {}


def test_reconcile_leaves_a_job_renewed_after_it_looked_stale(sqlite_worker) -> None:  # type: ignore[no-untyped-def]
    worker, _registry, _queue = sqlite_worker
    job_id = submit(worker, "raced")
    job = worker.jobs.claim(job_id)
    assert job is not None
    looked_stale_at = time.time()
    time.sleep(0.01)
    assert worker.jobs.heartbeat({job_id: job.attempts}) == {job_id}
    # What the reconciler writes after having read the job as stale: the beat wins.
    assert not worker.jobs.transition(
        job_id,
        source={JobStatus.PROCESSING},
        target=JobStatus.QUEUED,
        attempt=job.attempts,
        updated_before=looked_stale_at,
    )
    assert worker.service.get(job_id).status is JobStatus.PROCESSING


def test_jobs_in_hand_at_shutdown_go_back_to_the_queue(sqlite_worker) -> None:  # type: ignore[no-untyped-def]
    worker, registry, queue = sqlite_worker
    job_id = submit(worker, "shutdown")
    running = threading.Thread(target=worker.service.run, args=(job_id,))
    running.start()
    wait_for(lambda: registry.created == [job_id], what="the job to reach registration")
    queue.published.clear()
    assert worker.service.hand_back_in_hand() == 1
    assert worker.service.get(job_id).status is JobStatus.QUEUED
    assert queue.published == [job_id]
    registry.gate.set()
    running.join(30)
    assert worker.service.get(job_id).status is JobStatus.QUEUED  # left to the next worker


@pytest.fixture()
def pg_url() -> Iterator[str]:
    yield from fresh_database()


def test_old_and_new_owner_of_a_job_register_one_version(pg_url: str, tmp_path: Path) -> None:
    """Worker A stalls mid-registration past its lease (partitioned, not dead); the job is
    handed to worker B, which trains it and reaches registration while A is still in it. B
    waits for the job's lock, finds A's version and completes the job with it."""
    registry, queue = GatedRegistry(), RecordingQueue()
    a, b = (make_worker(pg_url, registry, tmp_path / "data", queue) for _ in range(2))
    try:
        job_id = submit(a, "takeover")
        first = threading.Thread(target=a.service.run, args=(job_id,))
        first.start()  # no heartbeat: A's lease runs out
        wait_for(lambda: registry.created == [job_id], what="A to reach registration")
        wait_for(
            lambda: b.service.reconcile(queued_for=3600, processing_lease=LEASE) == 1,
            what="A's lease to run out",
        )
        second = threading.Thread(target=b.service.run, args=(job_id,))
        second.start()
        wait_for(
            lambda: lock_waiters(b.engine) == 1 or len(registry.created) > 1,
            what="B to wait for the job's lock (or, unlocked, to register too)",
        )
        registry.gate.set()  # A registers, fails to complete (not its attempt), lets go
        first.join(30)
        second.join(30)
        job = b.service.get(job_id)
        assert job.status is JobStatus.COMPLETED and job.attempts == 2
        assert registry.created == [job_id]  # B found A's version instead of creating one
        assert [v.version for v in registry.list_versions(series_id="takeover")] == [1]
        assert job.model_version == 1
    finally:
        registry.gate.set()
        a.engine.dispose()
        b.engine.dispose()


def lock_waiters(engine: Engine) -> int:
    with engine.connect() as connection:
        count = connection.execute(
            text(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND NOT l.granted "
                "AND d.datname = current_database()"
            )
        ).scalar()
    return int(count or 0)
