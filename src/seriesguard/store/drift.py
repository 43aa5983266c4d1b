"""Fleet drift runs and what each found, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import delete, func, insert, select, update

from seriesguard.core.monitoring import DriftFinding, DriftRun
from seriesguard.store.db import SessionFactory
from seriesguard.store.tables import DriftFindingRow, DriftRunRow


def _to_run(row: DriftRunRow) -> DriftRun:
    return DriftRun(
        id=row.id,
        started_at=row.started_at,
        finished_at=row.finished_at,
        window_seconds=row.window_seconds,
        series_checked=row.series_checked,
        data_drifted=row.data_drifted,
        concept_drifted=row.concept_drifted,
        insufficient=row.insufficient,
        status=row.status,
        triggered_by=row.triggered_by,
    )


def _to_finding(row: DriftFindingRow) -> DriftFinding:
    return DriftFinding(
        series_id=row.series_id,
        version=row.version,
        kind=row.kind,
        statistic=row.statistic,
        threshold=row.threshold,
        sample_size=row.sample_size,
        details=dict(row.details),
    )


class DriftRepository:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def start(self, run: DriftRun) -> None:
        with self._sessions.begin() as session:
            values = asdict(run)
            values["triggered_by"] = run.triggered_by[:256]
            session.add(DriftRunRow(**values))

    def finish(
        self,
        *,
        run_id: str,
        finished_at: float,
        series_checked: int,
        data_drifted: int,
        concept_drifted: int,
        insufficient: int,
        status: str,
    ) -> None:
        """Record the outcome of run ``run_id``; KeyError when it was never started."""
        statement = (
            update(DriftRunRow)
            .where(DriftRunRow.id == run_id)
            .values(
                finished_at=finished_at,
                series_checked=series_checked,
                data_drifted=data_drifted,
                concept_drifted=concept_drifted,
                insufficient=insufficient,
                status=status,
            )
        )
        with self._sessions.begin() as session:
            if session.execute(statement).rowcount == 0:  # type: ignore[attr-defined]
                raise KeyError(f"drift run {run_id} was never started")

    def add_findings(self, *, run_id: str, findings: Sequence[DriftFinding]) -> None:
        if not findings:
            return
        values = [{"run_id": run_id, **asdict(finding)} for finding in findings]
        with self._sessions.begin() as session:
            session.execute(insert(DriftFindingRow), values)

    def get(self, run_id: str) -> DriftRun | None:
        with self._sessions() as session:
            row = session.get(DriftRunRow, run_id)
            return None if row is None else _to_run(row)

    def list_runs(self, *, limit: int, before_started_at: float | None = None) -> list[DriftRun]:
        """Up to ``limit`` runs, newest first; pass the ``started_at`` of the last run of a
        page as ``before_started_at`` for the next page."""
        if limit < 1:
            return []
        query = select(DriftRunRow)
        if before_started_at is not None:
            query = query.where(DriftRunRow.started_at < before_started_at)
        query = query.order_by(DriftRunRow.started_at.desc(), DriftRunRow.id.desc()).limit(limit)
        with self._sessions() as session:
            return [_to_run(row) for row in session.scalars(query)]

    def latest_finished(self) -> DriftRun | None:
        """The newest run that has ended (succeeded or failed): what the fleet overview shows."""
        query = (
            select(DriftRunRow)
            .where(DriftRunRow.finished_at.is_not(None))
            .order_by(DriftRunRow.started_at.desc(), DriftRunRow.id.desc())
            .limit(1)
        )
        with self._sessions() as session:
            row = session.scalars(query).first()
            return None if row is None else _to_run(row)

    def count_findings(self, run_id: str) -> int:
        query = select(func.count()).where(DriftFindingRow.run_id == run_id)
        with self._sessions() as session:
            return int(session.scalar(query) or 0)

    def findings(self, *, run_id: str, limit: int, offset: int = 0) -> list[DriftFinding]:
        """The findings of run ``run_id`` by series and kind, a page at a time."""
        query = (
            select(DriftFindingRow)
            .where(DriftFindingRow.run_id == run_id)
            .order_by(DriftFindingRow.series_id, DriftFindingRow.kind)
            .limit(limit)
            .offset(offset)
        )
        with self._sessions() as session:
            return [_to_finding(row) for row in session.scalars(query)]

    def latest_findings(
        self, *, series_id: str, limit: int = 10
    ) -> list[tuple[DriftRun, DriftFinding]]:
        """The most recent findings about ``series_id``, each with the run that found it."""
        query = (
            select(DriftRunRow, DriftFindingRow)
            .join(DriftFindingRow, DriftFindingRow.run_id == DriftRunRow.id)
            .where(DriftFindingRow.series_id == series_id)
            .order_by(DriftRunRow.started_at.desc(), DriftFindingRow.kind)
            .limit(limit)
        )
        with self._sessions() as session:
            return [(_to_run(run), _to_finding(finding)) for run, finding in session.execute(query)]

    def totals(self) -> dict[str, int]:
        """Findings per kind over every run kept (the ``model_drift_detected_total`` counter)."""
        query = select(DriftFindingRow.kind, func.count()).group_by(DriftFindingRow.kind)
        with self._sessions() as session:
            return {kind: int(count) for kind, count in session.execute(query)}

    def prune(self, *, before: float) -> int:
        """Delete the runs started before ``before`` with their findings; returns how many
        runs went."""
        old_runs = select(DriftRunRow.id).where(DriftRunRow.started_at < before)
        with self._sessions.begin() as session:
            session.execute(delete(DriftFindingRow).where(DriftFindingRow.run_id.in_(old_runs)))
            result = session.execute(delete(DriftRunRow).where(DriftRunRow.started_at < before))
            return int(result.rowcount)  # type: ignore[attr-defined]
