"""Per-job locks on PostgreSQL (two repositories on separate engines stand for two worker
processes) and in one process (SQLite): one holder per job, and a holder whose database
connection dies gives the lock up."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from tests.integration.postgres import two_engines

from seriesguard.store.db import create_db_engine, session_factory
from seriesguard.store.jobs import JobRepository
from seriesguard.store.locks import (
    JobLockUnavailable,
    LocalJobLocks,
    PostgresJobLocks,
    lock_key,
)

pytestmark = pytest.mark.integration


@pytest.fixture()
def engines() -> Iterator[tuple[Engine, Engine]]:
    yield from two_engines()


def repositories(engines: tuple[Engine, Engine]) -> tuple[JobRepository, JobRepository]:
    one, two = (JobRepository(session_factory(engine)) for engine in engines)
    return one, two


def test_repositories_on_postgres_use_advisory_locks(engines: tuple[Engine, Engine]) -> None:
    one, _ = repositories(engines)
    assert isinstance(one._locks, PostgresJobLocks)


def test_one_holder_per_job_across_engines(engines: tuple[Engine, Engine]) -> None:
    one, two = repositories(engines)
    job, other = str(uuid.uuid4()), str(uuid.uuid4())
    with one.job_lock(job):
        with pytest.raises(JobLockUnavailable), two.job_lock(job, wait_seconds=0.2):
            pytest.fail("two holders of one job's lock")
        with two.job_lock(other, wait_seconds=5):
            pass  # another job's lock is free
    with two.job_lock(job, wait_seconds=5):
        pass  # released on leaving the block


def test_a_waiter_gets_the_lock_when_the_holder_leaves(engines: tuple[Engine, Engine]) -> None:
    one, two = repositories(engines)
    job = str(uuid.uuid4())
    order: list[str] = []

    def second_worker() -> None:
        with two.job_lock(job, wait_seconds=30):
            order.append("two")

    with one.job_lock(job):
        waiter = threading.Thread(target=second_worker)
        waiter.start()
        wait_for(lambda: waiting_for(engines[0], job), what="the second worker to wait")
        order.append("one")
    waiter.join(30)
    assert order == ["one", "two"]


def test_lock_is_released_when_its_connection_dies(engines: tuple[Engine, Engine]) -> None:
    one, two = repositories(engines)
    job = str(uuid.uuid4())
    with one.job_lock(job):
        holders = holder_pids(engines[1], job)
        assert len(holders) == 1
        with engines[1].connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": holders[0]})
            admin.commit()
        with two.job_lock(job, wait_seconds=30):  # the server dropped the lock with the session
            pass
    # leaving the block after the loss only logs; the pool gets no dead connection back
    with one.job_lock(job, wait_seconds=5):
        pass


def test_process_local_locks_have_one_holder_per_job(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    one, two = JobRepository(session_factory(engine)), JobRepository(session_factory(engine))
    assert isinstance(one._locks, LocalJobLocks)
    job = str(uuid.uuid4())
    failures: list[BaseException] = []

    def other_thread() -> None:
        try:
            with two.job_lock(job, wait_seconds=0.2):
                failures.append(AssertionError("two holders of one job's lock"))
        except JobLockUnavailable as exc:
            failures.append(exc)

    with one.job_lock(job):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join(30)
    assert [type(f) for f in failures] == [JobLockUnavailable]
    with two.job_lock(job, wait_seconds=5):
        pass
    assert LocalJobLocks._locks == {}  # nothing kept for jobs nobody holds
    engine.dispose()


def holder_pids(engine: Engine, job_id: str) -> list[int]:
    return [int(pid) for pid in _advisory(engine, job_id, granted=True)]


def waiting_for(engine: Engine, job_id: str) -> bool:
    return bool(_advisory(engine, job_id, granted=False))


def _advisory(engine: Engine, job_id: str, *, granted: bool) -> list[object]:
    """Backends holding (or waiting for) the job's advisory lock: a bigint key shows in
    pg_locks as classid (high 32 bits) and objid (low 32 bits), objsubid 1."""
    key = lock_key(job_id) & 0xFFFF_FFFF_FFFF_FFFF
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 1"
                " AND classid::bigint = :high AND objid::bigint = :low AND granted = :granted"
            ),
            {"high": key >> 32, "low": key & 0xFFFF_FFFF, "granted": granted},
        )
        return [row[0] for row in rows]


def wait_for(condition: Callable[[], bool], *, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")
