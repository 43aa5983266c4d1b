"""The series with a production model, paged by series id: what the weekly retraining walks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from seriesguard.store.db import SessionFactory
from seriesguard.store.tables import SeriesRow


@dataclass(frozen=True)
class ProductionModel:
    series_id: str
    version: int
    algorithm: str
    params: dict[str, Any]  # the fitted parameters; the hyperparameters are among them


class ProductionModels:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def page(self, *, after: str, limit: int) -> list[ProductionModel]:
        """Up to ``limit`` series with a production version whose id sorts after ``after``
        (keyset paging on the primary key: page 1,000 of the fleet costs what page 1 does)."""
        if limit < 1:
            return []
        query = (
            select(
                SeriesRow.series_id,
                SeriesRow.production_version,
                SeriesRow.production_algorithm,
                SeriesRow.production_params,
            )
            .where(SeriesRow.series_id > after, SeriesRow.production_version.is_not(None))
            .order_by(SeriesRow.series_id)
            .limit(limit)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        return [
            ProductionModel(series_id, version, algorithm or "statistical", dict(params or {}))
            for series_id, version, algorithm, params in rows
        ]

    def count(self) -> int:
        query = select(func.count()).where(SeriesRow.production_version.is_not(None))
        with self._sessions() as session:
            return int(session.scalar(query) or 0)
