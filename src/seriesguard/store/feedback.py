"""Ground truth: the predictions that flagged an anomaly, the labels sent back for points,
and the two joined into (version, predicted, actual) for precision and recall."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, delete, func, or_, select

from seriesguard.core.monitoring import FlaggedPrediction, LabelledPoint
from seriesguard.store.db import SessionFactory
from seriesguard.store.stats import native_insert
from seriesguard.store.tables import FeedbackRow, FlaggedPredictionRow


class FlaggedRepository:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def add_flagged(self, rows: Sequence[FlaggedPrediction]) -> None:
        """Keep ``rows``; a prediction already kept (same series, timestamp and version) is
        left as it is, so a flush retried after a failure adds nothing twice."""
        values = [
            {
                "series_id": row.series_id,
                "timestamp": row.timestamp,
                "version": row.version,
                "score": row.score,
                "predicted_at": row.predicted_at,
            }
            # in key order: concurrent writers of the same keys wait on each other, never
            # in a cycle
            for row in sorted(rows, key=lambda r: (r.series_id, r.timestamp, r.version))
        ]
        if not values:
            return
        with self._sessions.begin() as session:
            statement = native_insert(session, FlaggedPredictionRow).on_conflict_do_nothing()
            session.execute(statement, values)

    def prune(self, *, before: float) -> int:
        """Delete predictions made before ``before``; returns how many went."""
        with self._sessions.begin() as session:
            result = session.execute(
                delete(FlaggedPredictionRow).where(FlaggedPredictionRow.predicted_at < before)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]


class FeedbackRepository:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def upsert(
        self,
        *,
        series_id: str,
        points: Sequence[LabelledPoint],
        version: int | None,
        submitted_by: str | None,
        now: float,
    ) -> int:
        """Store the labels of ``points``; a label sent again for a point replaces the earlier
        one (of two in ``points`` the last wins). ``version`` is the series' production
        version now: what a label on a point no version flagged is charged to. Returns the
        number of points labelled."""
        latest = {point.timestamp: point.is_anomaly for point in points}
        values = [
            {
                "series_id": series_id,
                "timestamp": timestamp,
                "is_anomaly": latest[timestamp],
                "version": version,
                "received_at": now,
                "submitted_by": None if submitted_by is None else submitted_by[:256],
            }
            for timestamp in sorted(latest)  # one lock order for concurrent senders
        ]
        if not values:
            return 0
        with self._sessions.begin() as session:
            statement = native_insert(session, FeedbackRow)
            replaced = ("is_anomaly", "version", "received_at", "submitted_by")
            upsert = statement.on_conflict_do_update(
                index_elements=["series_id", "timestamp"],
                set_={name: statement.excluded[name] for name in replaced},
            )
            session.execute(upsert, values)
        return len(values)

    def joined(self, *, series_id: str, since: float, until: float) -> list[tuple[int, bool, bool]]:
        """(version, predicted_anomaly, actual_anomaly) for each label of ``series_id`` with
        ``since <= timestamp <= until``: one per version that flagged the point, or, when none
        did, one for the version the label was charged to (none when that is unknown)."""
        flagged = FlaggedPredictionRow
        label = FeedbackRow
        query = (
            select(
                func.coalesce(flagged.version, label.version),
                flagged.version.is_not(None),
                label.is_anomaly,
            )
            .select_from(label)
            .outerjoin(
                flagged,
                and_(flagged.series_id == label.series_id, flagged.timestamp == label.timestamp),
            )
            .where(
                label.series_id == series_id,
                label.timestamp.between(since, until),
                or_(flagged.version.is_not(None), label.version.is_not(None)),
            )
            .order_by(label.timestamp, flagged.version)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        return [
            (int(version), bool(predicted), bool(actual)) for version, predicted, actual in rows
        ]

    def prune(self, *, before: float) -> int:
        """Delete labels received before ``before``; returns how many went."""
        with self._sessions.begin() as session:
            result = session.execute(delete(FeedbackRow).where(FeedbackRow.received_at < before))
            return int(result.rowcount)  # type: ignore[attr-defined]
