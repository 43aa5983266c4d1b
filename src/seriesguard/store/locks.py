"""Per-job locks: registration, catalog record and completion of one job never overlap.

Why: after a takeover, the worker that lost its lease (partitioned, not dead) and the one that
took the job over can both find no version for the job and both register one. Under the lock
each re-checks that the job is still its own, and the registry's find-by-job lookup sees the
version a previous holder registered, so a job leaves exactly one version.

PostgreSQL (distributed mode): a session advisory lock on a 64-bit hash of the job id, held on
a connection of its own, so the database releases it when the holder's connection or process
dies. Elsewhere (SQLite: embedded mode is one process): a lock table in this process.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from seriesguard.core.errors import Unavailable

log = logging.getLogger(__name__)
_LOCK_NOT_AVAILABLE: Final = "55P03"  # SQLSTATE of a lock wait cut by lock_timeout


class JobLockUnavailable(Unavailable):
    """The job's lock could not be taken in time, or the metadata DB is down (the job waits)."""

    rule = "job_lock_unavailable"


class JobLocks(ABC):
    @abstractmethod
    @contextmanager
    def hold(self, job_id: str, *, wait_seconds: float) -> Iterator[None]:
        """Hold the lock of ``job_id`` for the block; waits up to ``wait_seconds`` for another
        holder, then raises ``JobLockUnavailable``."""


def lock_key(job_id: str) -> int:
    """A stable signed 64-bit key (PostgreSQL's bigint) for ``job_id``, the same everywhere."""
    digest = hashlib.blake2b(job_id.encode(), digest_size=8, person=b"sg-job").digest()
    return int.from_bytes(digest, "big", signed=True)


class PostgresJobLocks(JobLocks):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    @contextmanager
    def hold(self, job_id: str, *, wait_seconds: float) -> Iterator[None]:
        key = lock_key(job_id)
        connection = self._acquire(key, job_id=job_id, wait_seconds=wait_seconds)
        try:
            yield
        finally:
            self._release(connection, key, job_id=job_id)

    def _acquire(self, key: int, *, job_id: str, wait_seconds: float) -> Connection:
        try:
            connection = self._engine.connect()
        except SQLAlchemyError as exc:
            raise JobLockUnavailable(f"lock of job {job_id}: database unreachable") from exc
        try:
            # lock_timeout bounds the wait; set_config(..., true) scopes it to this transaction,
            # while the advisory lock itself is session-level and outlives the commit.
            timeout_ms = max(1, round(wait_seconds * 1000))
            connection.execute(
                text("SELECT set_config('lock_timeout', :timeout, true)"),
                {"timeout": f"{timeout_ms}ms"},
            )
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            connection.commit()
        except SQLAlchemyError as exc:
            connection.close()
            if getattr(getattr(exc, "orig", None), "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                raise JobLockUnavailable(
                    f"job {job_id} is locked by another worker for over {wait_seconds:.0f}s"
                ) from exc
            raise JobLockUnavailable(f"lock of job {job_id}: {type(exc).__name__}") from exc
        return connection

    @staticmethod
    def _release(connection: Connection, key: int, *, job_id: str) -> None:
        try:
            released = connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": key}
            ).scalar()
            connection.commit()
        except SQLAlchemyError:
            released = False
        if not released:
            # The connection died while held, so another worker may have had the lock too;
            # the fenced completion and find-by-job still keep the job's outcome single.
            log.warning("lock of job %s was lost with its connection", job_id)
            connection.invalidate()  # never hand a session of unknown state back to the pool
        connection.close()


class LocalJobLocks(JobLocks):
    """One process: a re-entrant lock per job id, kept only while someone holds or waits."""

    _guard = threading.Lock()
    _locks: dict[str, tuple[threading.RLock, int]] = {}  # noqa: RUF012 - the process's table

    @contextmanager
    def hold(self, job_id: str, *, wait_seconds: float) -> Iterator[None]:
        lock = self._enter(job_id)
        try:
            if not lock.acquire(timeout=wait_seconds):
                raise JobLockUnavailable(
                    f"job {job_id} is locked by another worker for over {wait_seconds:.0f}s"
                )
            try:
                yield
            finally:
                lock.release()
        finally:
            self._leave(job_id)

    @classmethod
    def _enter(cls, job_id: str) -> threading.RLock:
        with cls._guard:
            lock, users = cls._locks.get(job_id, (threading.RLock(), 0))
            cls._locks[job_id] = (lock, users + 1)
            return lock

    @classmethod
    def _leave(cls, job_id: str) -> None:
        with cls._guard:
            lock, users = cls._locks[job_id]
            if users == 1:
                del cls._locks[job_id]
            else:
                cls._locks[job_id] = (lock, users - 1)


def job_locks_for(bind: object) -> JobLocks:
    """Advisory locks on a PostgreSQL engine; a process-local table otherwise (SQLite: one
    process)."""
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql":
        return PostgresJobLocks(bind)
    return LocalJobLocks()
