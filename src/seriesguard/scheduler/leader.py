"""Leader election: of all scheduler processes, only the holder of the lock acts.

PostgreSQL: a session-level advisory lock on a dedicated connection; it is released by the
database when that connection dies, so a crashed leader is replaced without waiting for a
lease to expire. Elsewhere (SQLite, one machine): an exclusive ``flock`` on a file in the home
folder, released by the kernel when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
from abc import ABC, abstractmethod
from pathlib import Path
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)
SCHEDULER_LOCK_KEY = 0x5E41E5_0002


class LeaderLock(ABC):
    @abstractmethod
    def try_acquire(self) -> bool:
        """True while this process is the leader (re-checked on every call)."""

    @abstractmethod
    def release(self) -> None:
        """Give up leadership (idempotent)."""


class PostgresLeaderLock(LeaderLock):
    def __init__(self, engine: Engine, *, key: int = SCHEDULER_LOCK_KEY) -> None:
        self._engine = engine
        self._key = key
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        try:
            if self._connection is not None:
                self._connection.execute(text("SELECT 1"))  # still alive: still the holder
                return True
            connection = self._engine.connect()
            held = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": self._key}
            ).scalar()
            connection.commit()
            if held:
                self._connection = connection
                return True
            connection.close()
            return False
        except SQLAlchemyError:
            log.warning("leader lock check failed; acting as follower", exc_info=True)
            self._drop()
            return False

    def release(self) -> None:
        if self._connection is not None:
            try:
                self._connection.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": self._key}
                )
                self._connection.commit()
            except SQLAlchemyError:
                pass  # the connection is gone, and the lock with it
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._connection.close()
        self._connection = None


class FileLeaderLock(LeaderLock):
    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: IO[bytes] | None = None

    def try_acquire(self) -> bool:
        if self._handle is not None:
            return True
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("ab")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def leader_lock_for(engine: Engine, *, home: Path) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return PostgresLeaderLock(engine)
    return FileLeaderLock(home / "scheduler.lock")
