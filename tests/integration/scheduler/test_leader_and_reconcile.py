"""Leader lock on PostgreSQL and on a file: of two schedulers, one acts; the reconciler
republishes lost and abandoned jobs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.integration.postgres import two_engines

from seriesguard.scheduler.leader import FileLeaderLock, PostgresLeaderLock
from seriesguard.scheduler.service import PeriodicTask, Scheduler


@pytest.fixture()
def pg_engines() -> Iterator[tuple[Engine, Engine]]:
    yield from two_engines()


def test_postgres_lock_has_one_holder_and_passes_on(pg_engines) -> None:  # type: ignore[no-untyped-def]
    key = uuid.uuid4().int % (2**62)
    one = PostgresLeaderLock(pg_engines[0], key=key)
    two = PostgresLeaderLock(pg_engines[1], key=key)
    assert one.try_acquire() and one.try_acquire()  # re-entrant for its holder
    assert not two.try_acquire()
    one.release()
    assert two.try_acquire()
    two.release()


def test_file_lock_has_one_holder(tmp_path: Path) -> None:
    one, two = FileLeaderLock(tmp_path / "s.lock"), FileLeaderLock(tmp_path / "s.lock")
    assert one.try_acquire() and not two.try_acquire()
    one.release()
    assert two.try_acquire()
    two.release()


def test_two_schedulers_run_each_task_once_per_interval(tmp_path: Path) -> None:
    runs: list[str] = []
    clock = [100.0]
    schedulers = [
        Scheduler(
            lock=FileLeaderLock(tmp_path / "s.lock"),
            tasks=[PeriodicTask("count", 10.0, lambda n=n: runs.append(n))],
            clock=lambda: clock[0],
        )
        for n in ("a", "b")
    ]
    for _ in range(3):
        for scheduler in schedulers:
            scheduler.run_due()
        clock[0] += 5.0
    assert runs == ["a", "a"]  # t=100 and t=110, by the leader only
    assert [s.is_leader for s in schedulers] == [True, False]
    schedulers[0].stop()
    assert schedulers[1].run_due() == ["count"]  # the follower takes over
    schedulers[1].stop()
