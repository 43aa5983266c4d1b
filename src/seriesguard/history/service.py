"""Bulk ingestion into the history store and its retention."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from seriesguard.core.history import DAY, IngestResult, PointBatch, validate_points
from seriesguard.core.series import check_series_id
from seriesguard.core.validation import FloatArray, TrainingData


class PointSink(Protocol):
    def add(self, points: PointBatch) -> int: ...


class HistoryBackend(PointSink, Protocol):
    def window(
        self, *, series_id: str, start: float, end: float, limit: int | None = None
    ) -> TrainingData: ...

    def count(self, series_id: str) -> int: ...

    def prune(self, *, older_than: float) -> int: ...


class HistoryService:
    def __init__(
        self,
        *,
        store: HistoryBackend,
        retention_days: float,
        max_points: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._retention = retention_days * DAY
        self._max_points = max_points
        self._clock = clock

    def oldest_kept(self) -> float:
        """Points before this epoch second are deleted by the next prune."""
        return self._clock() - self._retention

    def ingest(
        self,
        *,
        series_id: str,
        timestamps: Sequence[object] | FloatArray,
        values: Sequence[float] | FloatArray,
    ) -> IngestResult:
        """Validate and store a client's points of one series. Idempotent: points already
        stored (same series and timestamp) are counted as duplicates and left unchanged."""
        check_series_id(series_id)
        data = validate_points(
            timestamps, values, oldest_allowed=self.oldest_kept(), max_points=self._max_points
        )
        accepted = self.store.add(PointBatch.of_series(series_id, data)) if len(data) else 0
        first = float(data.timestamps[0]) if len(data) else None
        last = float(data.timestamps[-1]) if len(data) else None
        return IngestResult(
            series_id=series_id,
            accepted=accepted,
            duplicates=len(data) - accepted,
            first=first,
            last=last,
            retained_until=None if first is None else first + self._retention,
        )

    def prune(self) -> int:
        """Delete the points older than the retention (the scheduler's hourly task)."""
        return self.store.prune(older_than=self.oldest_kept())
