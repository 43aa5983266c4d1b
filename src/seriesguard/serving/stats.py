"""Per-series statistics of one predictor process, counted on the hot path.

Every answer is counted under its (series, version) for the current hour: requests, errors,
anomalies, a latency sketch and the input's bin in the version's reference histogram. The
counts are cumulative for the hour, so a flush writes the same row again with larger
numbers (a repeated flush changes nothing) and rows of several processes add up in the DB.

Cost on the hot path: one dict lookup, a few integer additions, one ``math.log`` and one
``bisect`` (about a microsecond against ~37 µs of CPU per predict). Memory: one counter per
(series, version) that answered this hour, at most ``max_series`` (285,000 series fit in
about 100 MB); beyond it answers are served but not counted (``dropped``), so random series
ids cannot grow the process.

Only the hot path writes counters (the event loop, and batch scoring in the thread pool);
:meth:`StatsRecorder.collect` runs in the flusher thread. A counter is marked dirty after it
is incremented, and the flusher clears the mark before it reads the counter, so an increment
is always in the row written now or in the next one.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from seriesguard.core.monitoring import REFERENCE_BINS, FlaggedPrediction, StatsRow, hour_of
from seriesguard.core.sketch import bucket_of
from seriesguard.serving.scorer import Scorer

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
# Flagged predictions waiting for a flush: beyond this (the DB down for long) the oldest go.
MAX_PENDING_FLAGGED = 200_000


class SeriesCounter:
    __slots__ = (
        "agreements",
        "anomalies",
        "bins",
        "dirty",
        "errors",
        "hour",
        "latency",
        "requests",
        "series_id",
        "version",
    )

    def __init__(self, series_id: str, version: int, hour: int) -> None:
        self.series_id = series_id
        self.version = version
        self.hour = hour
        self.requests = 0
        self.errors = 0
        self.anomalies = 0
        self.latency: dict[int, int] = {}
        self.bins = [0] * REFERENCE_BINS
        self.agreements = 0  # shadow counters only
        self.dirty = False

    def row(self, source: str) -> StatsRow:
        # Positional: a flush may build one per series of the fleet.
        return StatsRow(
            self.series_id,
            self.version,
            self.hour,
            source,
            self.requests,
            self.errors,
            self.anomalies,
            self.latency.copy(),
            tuple(self.bins),
            self.agreements,
        )


class PredictionCells(Protocol):
    """The cell of ``anomaly_predictions_total{anomaly, model_type}`` (``Counter.cell``):
    a one-item list the hot path adds to in place."""

    def __call__(self, *labels: str) -> list[float]: ...


@dataclass(frozen=True, slots=True)
class Collected:
    rows: list[StatsRow]
    flagged: list[FlaggedPrediction]
    counters: list[SeriesCounter]

    def __bool__(self) -> bool:
        return bool(self.rows or self.flagged)


class StatsRecorder:
    def __init__(
        self,
        *,
        source: str,
        max_series: int,
        clock: Callable[[], float] = time.time,
        prediction_cells: PredictionCells | None = None,
    ) -> None:
        """``prediction_cells(anomaly, model_type)`` gives the process-wide Prometheus
        counter of answers (its labels have no series in them), kept per model type."""
        self.source = source
        self._cell_of = prediction_cells
        self._cells: dict[str, tuple[list[float], list[float]]] = {}
        self._max_series = max_series
        self._clock = clock
        self._hour = hour_of(clock())
        self._counters: dict[tuple[str, int], SeriesCounter] = {}
        self._dirty: list[SeriesCounter] = []
        self._flagged: list[FlaggedPrediction] = []
        self.dropped = 0

    def record(
        self,
        scorer: Scorer,
        *,
        value: float,
        timestamp: float,
        anomaly: bool,
        score: float,
        seconds: float,
    ) -> None:
        """Count one answered prediction."""
        counter = self._counters.get(scorer.key) or self._open(scorer.key)
        if counter is None:
            return
        counter.requests += 1
        if anomaly:
            counter.anomalies += 1
            self._flag(scorer.key, timestamp, score)
        if self._cell_of is not None:
            self._prediction_cells(scorer.info.type)[anomaly][0] += 1.0
        bucket = bucket_of(seconds)
        latency = counter.latency
        latency[bucket] = latency.get(bucket, 0) + 1
        edges = scorer.edges
        if edges is not None:
            counter.bins[bisect_right(edges, value)] += 1
        self._touch(counter)

    def record_many(
        self,
        scorer: Scorer,
        *,
        values: FloatArray,
        timestamps: FloatArray,
        scores: FloatArray,
        anomalies: BoolArray,
        seconds: float,
    ) -> None:
        """Count the points of one series in a batch; each waited ``seconds`` (the batch)."""
        counter = self._counters.get(scorer.key) or self._open(scorer.key)
        if counter is None:
            return
        flagged = self._count_many(counter, scorer, values, timestamps, scores, anomalies, seconds)
        if self._cell_of is not None:
            normal, anomalous = self._prediction_cells(scorer.info.type)
            anomalous[0] += float(flagged)
            normal[0] += float(values.shape[0] - flagged)

    def record_shadow(
        self,
        scorer: Scorer,
        *,
        value: float,
        timestamp: float,
        anomaly: bool,
        score: float,
        seconds: float,
        agreed: bool,
    ) -> None:
        """Count one request scored by the series' shadow (its own scoring time): like an
        answer under the shadow's version, plus whether it agreed with the answer. Not an
        answer, so not in the process-wide Prometheus count of predictions."""
        counter = self._counters.get(scorer.key) or self._open(scorer.key)
        if counter is None:
            return
        counter.requests += 1
        counter.agreements += agreed
        if anomaly:
            counter.anomalies += 1
            self._flag(scorer.key, timestamp, score)
        bucket = bucket_of(seconds)
        counter.latency[bucket] = counter.latency.get(bucket, 0) + 1
        if scorer.edges is not None:
            counter.bins[bisect_right(scorer.edges, value)] += 1
        self._touch(counter)

    def record_shadow_many(
        self,
        scorer: Scorer,
        *,
        values: FloatArray,
        timestamps: FloatArray,
        scores: FloatArray,
        anomalies: BoolArray,
        seconds: float,
        agreements: int,
    ) -> None:
        """:meth:`record_shadow` for the points of one series in a batch."""
        counter = self._counters.get(scorer.key) or self._open(scorer.key)
        if counter is None:
            return
        self._count_many(counter, scorer, values, timestamps, scores, anomalies, seconds)
        counter.agreements += agreements

    def _count_many(
        self,
        counter: SeriesCounter,
        scorer: Scorer,
        values: FloatArray,
        timestamps: FloatArray,
        scores: FloatArray,
        anomalies: BoolArray,
        seconds: float,
    ) -> int:
        """Count a run of points on ``counter``; returns how many were flagged."""
        points = int(values.shape[0])
        flagged = np.flatnonzero(anomalies)
        counter.requests += points
        counter.anomalies += int(flagged.size)
        for index in flagged.tolist():
            self._flag(scorer.key, float(timestamps[index]), float(scores[index]))
        bucket = bucket_of(seconds)
        counter.latency[bucket] = counter.latency.get(bucket, 0) + points
        if scorer.edges is not None:
            positions = np.searchsorted(np.frombuffer(scorer.edges), values, side="right")
            per_bin = np.bincount(positions, minlength=REFERENCE_BINS).tolist()
            bins = counter.bins
            for position, count in enumerate(per_bin):
                bins[position] += count
        self._touch(counter)
        return int(flagged.size)

    def record_error(self, key: tuple[str, int], *, count: int = 1) -> None:
        """Predictions of this series that failed on our side (each counts as a request);
        under a shadow's key, its failures to score."""
        counter = self._counters.get(key) or self._open(key)
        if counter is None:
            return
        counter.requests += count
        counter.errors += count
        self._touch(counter)

    def collect(self) -> Collected:
        """The rows of every counter changed since the last collect, and the flagged
        predictions since then; starts a new hour when the clock has moved into one."""
        hour = hour_of(self._clock())
        if hour != self._hour:
            self._hour, self._counters = hour, {}
        dirty, self._dirty = self._dirty, []
        flagged, self._flagged = self._flagged, []
        rows = []
        for counter in dirty:
            counter.dirty = False
            rows.append(counter.row(self.source))
        return Collected(rows=rows, flagged=flagged, counters=dirty)

    def restore(self, collected: Collected) -> None:
        """A flush failed: write it again next time. Counters are cumulative, so each is just
        marked again (an hour already closed included); flagged predictions are put back,
        the oldest dropped beyond MAX_PENDING_FLAGGED."""
        for counter in collected.counters:
            self._touch(counter)
        pending = collected.flagged + self._flagged
        self._flagged = pending[-MAX_PENDING_FLAGGED:]

    @property
    def counting(self) -> int:
        """(series, version) pairs counted this hour."""
        return len(self._counters)

    def _prediction_cells(self, model_type: str) -> tuple[list[float], list[float]]:
        """(not flagged, flagged) cells of the Prometheus counter for ``model_type``."""
        cells = self._cells.get(model_type)
        if cells is None:
            assert self._cell_of is not None
            cells = (self._cell_of("false", model_type), self._cell_of("true", model_type))
            self._cells[model_type] = cells
        return cells

    def _open(self, key: tuple[str, int]) -> SeriesCounter | None:
        if len(self._counters) >= self._max_series:
            self.dropped += 1
            return None
        counter = SeriesCounter(key[0], key[1], self._hour)
        # setdefault: two threads opening the same series share one counter.
        return self._counters.setdefault(key, counter)

    def _touch(self, counter: SeriesCounter) -> None:
        if not counter.dirty:
            counter.dirty = True
            self._dirty.append(counter)

    def _flag(self, key: tuple[str, int], timestamp: float, score: float) -> None:
        if len(self._flagged) < MAX_PENDING_FLAGGED:
            self._flagged.append(
                FlaggedPrediction(
                    series_id=key[0],
                    timestamp=timestamp,
                    version=key[1],
                    score=score,
                    predicted_at=self._clock(),
                )
            )


class DisabledStats(StatsRecorder):
    """Counts nothing (``stats_enabled=false``): every call returns at once."""

    def record(
        self,
        scorer: Scorer,
        *,
        value: float,
        timestamp: float,
        anomaly: bool,
        score: float,
        seconds: float,
    ) -> None:
        return None

    def record_many(
        self,
        scorer: Scorer,
        *,
        values: FloatArray,
        timestamps: FloatArray,
        scores: FloatArray,
        anomalies: BoolArray,
        seconds: float,
    ) -> None:
        return None

    def record_shadow(
        self,
        scorer: Scorer,
        *,
        value: float,
        timestamp: float,
        anomaly: bool,
        score: float,
        seconds: float,
        agreed: bool,
    ) -> None:
        return None

    def record_shadow_many(
        self,
        scorer: Scorer,
        *,
        values: FloatArray,
        timestamps: FloatArray,
        scores: FloatArray,
        anomalies: BoolArray,
        seconds: float,
        agreements: int,
    ) -> None:
        return None

    def record_error(self, key: tuple[str, int], *, count: int = 1) -> None:
        return None
