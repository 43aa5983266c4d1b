"""Audit repository: append events, read them back newest first, a page at a time."""

from __future__ import annotations

from sqlalchemy import select

from seriesguard.core.audit import AuditAction, AuditEvent
from seriesguard.store.db import SessionFactory
from seriesguard.store.tables import AuditRow


def _cut(value: str | None, size: int) -> str | None:
    # A value from a token or a header longer than its column is cut rather than lose the
    # event: PostgreSQL would refuse the whole row.
    return None if value is None else value[:size]


def _to_event(row: AuditRow) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        at=row.at,
        subject=row.subject,
        roles=tuple(row.roles),
        action=AuditAction(row.action),
        series_id=row.series_id,
        version=row.version,
        job_id=row.job_id,
        client=row.client,
        outcome=row.outcome,
        details=dict(row.details),
    )


class AuditRepository:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def record(self, event: AuditEvent) -> AuditEvent:
        """Append ``event`` (its ``id`` is ignored); returns it with the id it was given.

        ``details`` must be JSON-serialisable."""
        row = AuditRow(
            at=event.at,
            subject=event.subject[:256],
            roles=list(event.roles),
            action=event.action.value,
            series_id=_cut(event.series_id, 128),
            version=event.version,
            job_id=_cut(event.job_id, 36),
            client=_cut(event.client, 64),
            outcome=event.outcome[:16],
            details=dict(event.details),
        )
        with self._sessions.begin() as session:
            session.add(row)
            session.flush()  # assigns the id
            return _to_event(row)

    def page(
        self,
        *,
        limit: int,
        before_id: int | None = None,
        action: AuditAction | None = None,
        series_id: str | None = None,
        subject: str | None = None,
    ) -> list[AuditEvent]:
        """Up to ``limit`` events matching every filter given, newest first.

        Keyset pagination: pass the id of the last event of a page as ``before_id`` to get the
        next one; unlike an offset it neither skips nor repeats events recorded meanwhile."""
        if limit < 1:
            return []
        query = select(AuditRow)
        if before_id is not None:
            query = query.where(AuditRow.id < before_id)
        if action is not None:
            query = query.where(AuditRow.action == action.value)
        if series_id is not None:
            query = query.where(AuditRow.series_id == series_id)
        if subject is not None:
            query = query.where(AuditRow.subject == subject)
        with self._sessions() as session:
            rows = session.scalars(query.order_by(AuditRow.id.desc()).limit(limit))
            return [_to_event(row) for row in rows]
