"""Recorded runs of the scheduler's cron tasks (weekly retraining, drift check): one row each.

A cron fire is claimed by inserting its row: ``(task, scheduled_for)`` is unique, so a fire runs
once even when two schedulers (a leader change) or a restart race for it. A run someone asked
for through the API is a row ``queued`` with no fire time, which the leader starts on its next
tick (the API process need not be the leader). A run stays ``running`` across many ticks; its
``progress`` and ``cursor`` are saved after each step so another leader resumes it.
"""

from __future__ import annotations

import time
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from seriesguard.core.errors import Conflict
from seriesguard.store.db import SessionFactory
from seriesguard.store.tables import SchedulerRunRow

SCHEDULE = "schedule"  # triggered_by of a run a cron fire started


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


ACTIVE = (RunStatus.QUEUED, RunStatus.RUNNING)


@dataclass(frozen=True)
class SchedulerRun:
    id: str
    task: str
    status: RunStatus
    triggered_by: str
    started_at: float  # when it started; for a queued run, when it was asked for
    scheduled_for: float | None = None  # the cron fire; None for a triggered run
    finished_at: float | None = None
    progress: Mapping[str, Any] = field(default_factory=dict)
    cursor: str | None = None
    error: str | None = None


def _run(row: SchedulerRunRow) -> SchedulerRun:
    return SchedulerRun(
        id=row.id,
        task=row.task,
        status=RunStatus(row.status),
        triggered_by=row.triggered_by,
        started_at=row.started_at,
        scheduled_for=row.scheduled_for,
        finished_at=row.finished_at,
        progress=dict(row.progress or {}),
        cursor=row.cursor,
        error=row.error,
    )


class SchedulerRunRepository:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def claim_fire(
        self, *, task: str, scheduled_for: float, status: RunStatus = RunStatus.RUNNING
    ) -> SchedulerRun | None:
        """Record the run of a cron fire; None when that fire already has one (another
        scheduler or an earlier life of this one took it). ``status`` ``skipped`` records a
        fire that did not run (its task was still busy)."""
        now = time.time()
        row = SchedulerRunRow(
            id=str(uuid.uuid4()),
            task=task,
            scheduled_for=scheduled_for,
            started_at=now,
            finished_at=None if status is RunStatus.RUNNING else now,
            status=status.value,
            triggered_by=SCHEDULE,
            progress={},
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
                return _run(row)
        except IntegrityError:
            return None

    def enqueue(self, *, task: str, triggered_by: str) -> SchedulerRun:
        """A run someone asked for, ``queued`` for the leader; Conflict when a run of the
        task is queued or running already."""
        with self._sessions.begin() as session:
            _serialise_per_task(session, task)
            busy = session.scalar(
                select(SchedulerRunRow)
                .where(SchedulerRunRow.task == task, SchedulerRunRow.status.in_(ACTIVE))
                .order_by(SchedulerRunRow.started_at.desc())
                .limit(1)
            )
            if busy is not None:
                raise Conflict(
                    f"a run of {task} is {busy.status} already ({busy.id}); wait for it to finish",
                    rule="run_in_progress",
                    loc=("body", "task"),
                )
            row = SchedulerRunRow(
                id=str(uuid.uuid4()),
                task=task,
                scheduled_for=None,
                started_at=time.time(),
                status=RunStatus.QUEUED.value,
                triggered_by=triggered_by[:256],
                progress={},
            )
            session.add(row)
            return _run(row)

    def start(self, run_id: str) -> bool:
        """queued -> running (compare-and-set); False when it was not queued any more."""
        statement = (
            update(SchedulerRunRow)
            .where(SchedulerRunRow.id == run_id, SchedulerRunRow.status == RunStatus.QUEUED)
            .values(status=RunStatus.RUNNING.value, started_at=time.time())
        )
        with self._sessions.begin() as session:
            return bool(session.execute(statement).rowcount)  # type: ignore[attr-defined]

    def save(self, run_id: str, *, progress: Mapping[str, Any], cursor: str | None) -> None:
        """Progress and cursor of a running run, after each step."""
        statement = (
            update(SchedulerRunRow)
            .where(SchedulerRunRow.id == run_id, SchedulerRunRow.status == RunStatus.RUNNING)
            .values(progress=dict(progress), cursor=cursor)
        )
        with self._sessions.begin() as session:
            session.execute(statement)

    def finish(
        self,
        run_id: str,
        *,
        status: RunStatus,
        progress: Mapping[str, Any] | None = None,
        cursor: str | None = None,
        error: str | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "status": status.value,
            "finished_at": time.time(),
            "error": None if error is None else error[:4000],
            "cursor": cursor,
        }
        if progress is not None:
            values["progress"] = dict(progress)
        statement = (
            update(SchedulerRunRow)
            .where(SchedulerRunRow.id == run_id, SchedulerRunRow.status.in_(ACTIVE))
            .values(**values)
        )
        with self._sessions.begin() as session:
            session.execute(statement)

    def get(self, run_id: str) -> SchedulerRun | None:
        with self._sessions() as session:
            row = session.get(SchedulerRunRow, run_id)
            return None if row is None else _run(row)

    def active(self) -> list[SchedulerRun]:
        """Runs queued or running, oldest first: what the leader works on each tick."""
        query = (
            select(SchedulerRunRow)
            .where(SchedulerRunRow.status.in_(ACTIVE))
            .order_by(SchedulerRunRow.started_at, SchedulerRunRow.id)
        )
        with self._sessions() as session:
            return [_run(row) for row in session.scalars(query)]

    def list_runs(
        self, *, task: str | None, status: RunStatus | None, limit: int, offset: int
    ) -> tuple[list[SchedulerRun], int]:
        """A page of runs, newest first, and how many match."""
        query = select(SchedulerRunRow)
        if task is not None:
            query = query.where(SchedulerRunRow.task == task)
        if status is not None:
            query = query.where(SchedulerRunRow.status == status.value)
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(SchedulerRunRow.started_at.desc(), SchedulerRunRow.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [_run(row) for row in rows], int(total)

    def latest(self, task: str) -> SchedulerRun | None:
        runs, _ = self.list_runs(task=task, status=None, limit=1, offset=0)
        return runs[0] if runs else None

    def latest_fire(self, task: str) -> float | None:
        """The fire time of the task's last recorded cron run, if it ever had one."""
        query = select(func.max(SchedulerRunRow.scheduled_for)).where(SchedulerRunRow.task == task)
        with self._sessions() as session:
            found = session.scalar(query)
            return None if found is None else float(found)

    def prune(self, *, finished_before: float) -> int:
        """Delete finished runs older than ``finished_before``; returns how many."""
        statement = delete(SchedulerRunRow).where(
            SchedulerRunRow.finished_at < finished_before,
            SchedulerRunRow.status.not_in(ACTIVE),
        )
        with self._sessions.begin() as session:
            return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def _serialise_per_task(session: Session, task: str) -> None:
    """On PostgreSQL, two API replicas asked for the same task at once queue one run: the
    check-then-insert runs under a transaction lock per task. (SQLite serialises writers.)"""
    if session.get_bind().dialect.name == "postgresql":
        key = 0x5E41E5_0003_0000 + zlib.crc32(task.encode())
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
