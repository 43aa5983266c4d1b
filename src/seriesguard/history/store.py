"""The history store: every point a predictor scored or a client sent, per series and time.

One row per (series_id, ts), the primary key, so writing a point twice is a no-op (a
retried flush, a re-sent bulk request). Reads are one series over a time range, which the
key serves in order; retention deletes by time alone (a BRIN index on PostgreSQL, tiny
because rows arrive roughly in time order).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, select, text, tuple_
from sqlalchemy.orm import Session

from seriesguard.core.history import PointBatch
from seriesguard.core.validation import TrainingData
from seriesguard.store.db import SessionFactory
from seriesguard.store.tables import HistoryPointRow

_INCOMING = "incoming_history_points"  # per-transaction staging table of a PostgreSQL COPY
_SQLITE_INSERT = "INSERT OR IGNORE INTO history_points (series_id, ts, value) VALUES (?, ?, ?)"
PRUNE_CHUNK = 50_000  # rows deleted per transaction: short locks, bounded WAL per commit


class HistoryStore:
    def __init__(self, sessions: SessionFactory, *, prune_chunk: int = PRUNE_CHUNK) -> None:
        self._sessions = sessions
        self._prune_chunk = prune_chunk

    def add(self, points: PointBatch) -> int:
        """Store the points not stored yet; returns how many were new. A point whose
        (series, timestamp) is already there keeps its first value (the write is idempotent)."""
        if not len(points):
            return 0
        with self._sessions.begin() as session:
            dialect = session.get_bind().dialect
            if (dialect.name, dialect.driver) == ("postgresql", "psycopg"):
                return _copy_then_insert(session, points)
            if dialect.name == "sqlite":
                return _sqlite_insert(session, points)
            return _plain_insert(session, points)

    def window(
        self, *, series_id: str, start: float, end: float, limit: int | None = None
    ) -> TrainingData:
        """The points of ``series_id`` with ``start < ts <= end``, oldest first; with ``limit``
        only the newest ``limit`` of them (a training window is capped at max_points)."""
        row = HistoryPointRow
        query = select(row.ts, row.value).where(
            row.series_id == series_id, row.ts > start, row.ts <= end
        )
        query = query.order_by(row.ts.desc()).limit(limit) if limit else query.order_by(row.ts)
        with self._sessions() as session:
            # Core rows, not ORM objects: a window is up to 100,000 points.
            rows = session.connection().execute(query).all()
        array = np.array(rows, dtype=np.float64).reshape(-1, 2)
        if limit:
            array = array[::-1]
        return TrainingData(
            timestamps=np.ascontiguousarray(array[:, 0]), values=np.ascontiguousarray(array[:, 1])
        )

    def count(self, series_id: str) -> int:
        query = select(func.count()).where(HistoryPointRow.series_id == series_id)
        with self._sessions() as session:
            return int(session.execute(query).scalar_one())

    def prune(self, *, older_than: float) -> int:
        """Delete every point with ``ts < older_than``, ``prune_chunk`` rows per transaction,
        so a table of billions never holds one long delete (locks, WAL, replication lag);
        returns how many went. Safe to interrupt and to run from two processes."""
        total = 0
        for deleted in self._prune_chunks(older_than):
            total += deleted
        return total

    def _prune_chunks(self, older_than: float) -> Iterator[int]:
        while True:
            with self._sessions.begin() as session:
                deleted = _delete_chunk(session.connection(), older_than, self._prune_chunk)
            yield deleted
            if deleted < self._prune_chunk:
                return


def _rows(points: PointBatch) -> list[tuple[str, float, float]]:
    return list(
        zip(points.series_ids, points.timestamps.tolist(), points.values.tolist(), strict=True)
    )


def _sqlite_insert(session: Session, points: PointBatch) -> int:
    """One prepared statement run by the driver over every row (SQLAlchemy's per-row
    parameter handling would cost more than the write)."""
    driver = session.connection().connection.driver_connection
    assert driver is not None
    cursor = driver.cursor()
    try:
        before = driver.total_changes
        cursor.executemany(_SQLITE_INSERT, _rows(points))
        return int(driver.total_changes - before)
    finally:
        cursor.close()


def _copy_then_insert(session: Session, points: PointBatch) -> int:
    """COPY into a staging table, then one INSERT ... SELECT ... ON CONFLICT DO NOTHING in
    key order: no statement per row, and two writers take row locks in the same order."""
    session.execute(
        text(
            f"CREATE TEMPORARY TABLE {_INCOMING} "
            "(series_id text NOT NULL, ts double precision NOT NULL, value double precision "
            "NOT NULL, seq bigint GENERATED ALWAYS AS IDENTITY) ON COMMIT DROP"
        )
    )
    driver = session.connection().connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f"COPY {_INCOMING} (series_id, ts, value) FROM STDIN") as copy,
    ):
        for row in _rows(points):
            copy.write_row(row)
    result = session.execute(
        text(
            "INSERT INTO history_points (series_id, ts, value) "
            # DISTINCT ON by arrival (seq): of a key twice in one batch, the first value is
            # kept, as it is against the table.
            f"SELECT DISTINCT ON (series_id, ts) series_id, ts, value FROM {_INCOMING} "
            "ORDER BY series_id, ts, seq ON CONFLICT DO NOTHING"
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _plain_insert(session: Session, points: PointBatch) -> int:
    """Any other driver (psycopg2): a portable INSERT ... ON CONFLICT DO NOTHING."""
    from sqlalchemy.dialects import postgresql

    statement = postgresql.insert(HistoryPointRow).on_conflict_do_nothing()
    rows: list[dict[str, Any]] = [
        {"series_id": s, "ts": t, "value": v} for s, t, v in _rows(points)
    ]
    result = session.execute(statement, rows)
    return int(result.rowcount)  # type: ignore[attr-defined]


def _delete_chunk(connection: Connection, older_than: float, chunk: int) -> int:
    row = HistoryPointRow
    if connection.dialect.name == "postgresql":
        # By physical address: the cheapest way PostgreSQL has to delete a bounded set.
        statement = text(
            "DELETE FROM history_points WHERE ctid = ANY(ARRAY("
            "SELECT ctid FROM history_points WHERE ts < :older_than LIMIT :chunk))"
        )
        result = connection.execute(statement, {"older_than": older_than, "chunk": chunk})
    else:
        # A WITHOUT ROWID table: the chunk is named by its primary key.
        doomed = select(row.series_id, row.ts).where(row.ts < older_than).limit(chunk)
        result = connection.execute(delete(row).where(tuple_(row.series_id, row.ts).in_(doomed)))
    return int(result.rowcount)
