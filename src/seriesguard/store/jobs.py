"""Job repository: the job table is the truth, every state change is compare-and-set."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select, update

from seriesguard.core.errors import RateLimited
from seriesguard.core.jobs import Job, JobStatus
from seriesguard.store.db import SessionFactory
from seriesguard.store.locks import JobLocks, job_locks_for
from seriesguard.store.tables import JobRow

# How long a worker waits for another holder of a job's lock: holders only register a version
# and record it, and a dead holder's lock goes with its connection.
JOB_LOCK_WAIT_SECONDS = 300.0


def _to_job(row: JobRow) -> Job:
    return Job(
        id=row.id,
        series_id=row.series_id,
        status=JobStatus(row.status),
        priority=row.priority,
        algorithm=row.algorithm,
        hyperparameters=dict(row.hyperparameters),
        n_points=row.n_points,
        data_path=row.data_path,
        created_at=row.created_at,
        updated_at=row.updated_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        attempts=row.attempts,
        error=row.error,
        model_version=row.model_version,
        run_id=row.run_id,
        window_start=row.window_start,
        window_end=row.window_end,
        submitted_by=row.submitted_by,
    )


class JobRepository:
    def __init__(self, sessions: SessionFactory, *, locks: JobLocks | None = None) -> None:
        self._sessions = sessions
        self._locks = locks or job_locks_for(sessions.kw.get("bind"))

    def create(self, job: Job, *, min_interval_seconds: float) -> Job:
        """Insert ``job`` unless the series had a job less than ``min_interval_seconds`` ago."""
        with self._sessions.begin() as session:
            if min_interval_seconds > 0:
                last = session.scalar(
                    select(func.max(JobRow.created_at)).where(JobRow.series_id == job.series_id)
                )
                if last is not None and job.created_at - last < min_interval_seconds:
                    wait = min_interval_seconds - (job.created_at - last)
                    raise RateLimited(
                        f"series {job.series_id!r} already had a training job "
                        f"{job.created_at - last:.0f} s ago; one job per "
                        f"{min_interval_seconds:.0f} s is allowed",
                        retry_after=wait,
                        loc=("path", "series_id"),
                    )
            session.add(JobRow(**{f: getattr(job, f) for f in Job.__dataclass_fields__}))
        return job

    def get(self, job_id: str) -> Job | None:
        with self._sessions() as session:
            row = session.get(JobRow, job_id)
            return None if row is None else _to_job(row)

    def list_jobs(
        self,
        *,
        series_id: str | None = None,
        status: JobStatus | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Job], int]:
        query = select(JobRow)
        if series_id is not None:
            query = query.where(JobRow.series_id == series_id)
        if status is not None:
            query = query.where(JobRow.status == status.value)
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(JobRow.created_at.desc(), JobRow.id).limit(limit).offset(offset)
            )
            return [_to_job(r) for r in rows], int(total)

    def transition(
        self,
        job_id: str,
        *,
        source: Iterable[JobStatus],
        target: JobStatus,
        attempt: int | None = None,
        updated_before: float | None = None,
        **fields: Any,
    ) -> bool:
        """Move the job to ``target`` only if it is in one of ``source`` (and, with
        ``attempt``, only if no later claim took it over; with ``updated_before``, only if no
        heartbeat or other change touched it since); True if it moved."""
        values = {"status": target.value, "updated_at": time.time(), **fields}
        conditions = [JobRow.id == job_id, JobRow.status.in_([s.value for s in source])]
        if attempt is not None:
            conditions.append(JobRow.attempts == attempt)
        if updated_before is not None:
            conditions.append(JobRow.updated_at < updated_before)
        with self._sessions.begin() as session:
            result = session.execute(
                update(JobRow)
                .where(*conditions)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

    def claim(self, job_id: str) -> Job | None:
        """queued -> processing, counting the attempt; None if someone else has it."""
        with self._sessions.begin() as session:
            now = time.time()
            result = session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == JobStatus.QUEUED.value)
                .values(
                    status=JobStatus.PROCESSING.value,
                    started_at=now,
                    updated_at=now,
                    attempts=JobRow.attempts + 1,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                return None
            row = session.get(JobRow, job_id)
            return None if row is None else _to_job(row)

    def heartbeat(self, held: Mapping[str, int]) -> set[str]:
        """Renew the lease of each job in ``held`` (job id -> attempt) that is still processing
        under that attempt; returns the ids renewed (the others were cancelled, finished or
        taken over). One transaction for all the jobs a worker process has in hand."""
        renewed = set()
        with self._sessions.begin() as session:
            now = time.time()
            for job_id, attempt in held.items():
                result = session.execute(
                    update(JobRow)
                    .where(
                        JobRow.id == job_id,
                        JobRow.status == JobStatus.PROCESSING.value,
                        JobRow.attempts == attempt,
                    )
                    .values(updated_at=now)
                    .execution_options(synchronize_session=False)
                )
                if getattr(result, "rowcount", 0) == 1:
                    renewed.add(job_id)
        return renewed

    @contextmanager
    def job_lock(
        self, job_id: str, *, wait_seconds: float = JOB_LOCK_WAIT_SECONDS
    ) -> Iterator[None]:
        """Hold the job's lock across processes for the block (see ``store.locks``); raises
        ``JobLockUnavailable`` (an ``Unavailable``) after ``wait_seconds``."""
        with self._locks.hold(job_id, wait_seconds=wait_seconds):
            yield

    def unfinished(self) -> list[Job]:
        """Jobs a crash may have left behind, highest priority first."""
        with self._sessions() as session:
            rows = session.scalars(
                select(JobRow)
                .where(JobRow.status.in_([JobStatus.QUEUED.value, JobStatus.PROCESSING.value]))
                .order_by(JobRow.priority.desc(), JobRow.created_at)
            )
            return [_to_job(r) for r in rows]

    def stale(self, *, status: JobStatus, updated_before: float, limit: int = 1000) -> list[Job]:
        """Jobs left in ``status`` since before ``updated_before`` (oldest first)."""
        with self._sessions() as session:
            rows = session.scalars(
                select(JobRow)
                .where(JobRow.status == status.value, JobRow.updated_at < updated_before)
                .order_by(JobRow.updated_at)
                .limit(limit)
            )
            return [_to_job(r) for r in rows]

    def count_with_status(self, status: JobStatus) -> int:
        """Jobs in one state (an index range: cheap enough for every metrics scrape)."""
        with self._sessions() as session:
            query = select(func.count()).select_from(JobRow).where(JobRow.status == status.value)
            return int(session.scalar(query) or 0)

    def count_by_status(self) -> dict[str, int]:
        with self._sessions() as session:
            rows = session.execute(select(JobRow.status, func.count()).group_by(JobRow.status))
            return {status: int(count) for status, count in rows}
