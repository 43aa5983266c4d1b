"""The predictor's per-series counters: what one process counts and hands to a flush."""

from __future__ import annotations

from array import array

import numpy as np
import pytest

from seriesguard.core.detectors import ZScoreDetector
from seriesguard.core.monitoring import REFERENCE_BINS, StatsRow
from seriesguard.core.sketch import bucket_of
from seriesguard.serving.scorer import Scorer, production_scorer
from seriesguard.serving.stats import DisabledStats, StatsRecorder
from seriesguard.serving.stats_flush import StatsFlusher

HOUR = 3600.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def scorer(
    series_id: str = "s1", version: int = 3, edges: tuple[float, ...] | None = (0.0, 1.0)
) -> Scorer:
    return production_scorer(
        ZScoreDetector(mean=0.0, std=1.0),
        series_id=series_id,
        version=version,
        origin="catalog",
        loaded_from="memory",
        edges=None if edges is None else array("d", edges),
    )


def record(recorder: StatsRecorder, s: Scorer, value: float, *, anomaly: bool = False) -> None:
    recorder.record(s, value=value, timestamp=1.0, anomaly=anomaly, score=abs(value), seconds=0.001)


def test_counts_requests_anomalies_latency_and_bins_per_series_and_version() -> None:
    recorder = StatsRecorder(source="pod-a", max_series=10, clock=Clock(100 * HOUR))
    first, other = scorer(), scorer("s2", 1)
    for value in (-1.0, 0.0, 0.5, 1.0, 4.0):
        record(recorder, first, value, anomaly=value > 3)
    record(recorder, other, 0.2)
    rows = {(r.series_id, r.version): r for r in recorder.collect().rows}
    row = rows[("s1", 3)]
    assert (row.requests, row.anomalies, row.errors) == (5, 1, 0)
    # bisect_right on edges (0, 1): -1 -> 0; 0, 0.5 -> 1; 1, 4 -> 2
    assert row.bins[:3] == (1, 2, 2) and len(row.bins) == REFERENCE_BINS
    assert row.latency == {bucket_of(0.001): 5}
    assert (row.hour, row.source) == (100, "pod-a")
    assert rows[("s2", 1)].requests == 1


def test_collect_hands_over_only_what_changed_and_counts_stay_cumulative() -> None:
    recorder = StatsRecorder(source="p", max_series=10, clock=Clock(5 * HOUR))
    s = scorer()
    record(recorder, s, 0.5)
    assert [r.requests for r in recorder.collect().rows] == [1]
    assert not recorder.collect()  # nothing new
    record(recorder, s, 0.5)
    assert [r.requests for r in recorder.collect().rows] == [2]  # the hour's total


def test_a_new_hour_starts_new_counters_and_the_old_hour_is_still_written() -> None:
    clock = Clock(7 * HOUR + 3590)
    recorder = StatsRecorder(source="p", max_series=10, clock=clock)
    s = scorer()
    record(recorder, s, 0.5)
    clock.now = 8 * HOUR + 1
    collected = recorder.collect()  # rolls over, still hands the 7th hour's counter
    assert [(r.hour, r.requests) for r in collected.rows] == [(7, 1)]
    record(recorder, s, 0.5)
    assert [(r.hour, r.requests) for r in recorder.collect().rows] == [(8, 1)]


def test_errors_count_as_requests_and_flagged_predictions_are_kept() -> None:
    recorder = StatsRecorder(source="p", max_series=10, clock=Clock(HOUR))
    s = scorer()
    recorder.record_error(s.key)
    recorder.record(s, value=9.0, timestamp=42.0, anomaly=True, score=9.0, seconds=0.002)
    collected = recorder.collect()
    (row,) = collected.rows
    assert (row.requests, row.errors, row.anomalies) == (2, 1, 1)
    (flag,) = collected.flagged
    assert (flag.series_id, flag.timestamp, flag.version, flag.score) == ("s1", 42.0, 3, 9.0)


def test_beyond_max_series_answers_are_not_counted_but_dropped_is() -> None:
    recorder = StatsRecorder(source="p", max_series=2, clock=Clock(HOUR))
    for name in ("a", "b", "c", "d"):
        record(recorder, scorer(name), 0.0)
    assert {r.series_id for r in recorder.collect().rows} == {"a", "b"}
    assert recorder.dropped == 2


def test_a_version_without_reference_is_counted_but_not_binned() -> None:
    recorder = StatsRecorder(source="p", max_series=10, clock=Clock(HOUR))
    record(recorder, scorer(edges=None), 0.5)
    (row,) = recorder.collect().rows
    assert row.requests == 1 and sum(row.bins) == 0


def test_record_many_matches_one_by_one() -> None:
    values = np.array([-2.0, 0.0, 0.3, 1.0, 5.0, 7.0])
    anomalies = np.abs(values) > 3
    one, many = (StatsRecorder(source="p", max_series=10, clock=Clock(HOUR)) for _ in range(2))
    s = scorer()
    for value, flagged in zip(values.tolist(), anomalies.tolist(), strict=True):
        one.record(s, value=value, timestamp=1.0, anomaly=flagged, score=abs(value), seconds=0.01)
    many.record_many(
        s,
        values=values,
        timestamps=np.ones_like(values),
        scores=np.abs(values),
        anomalies=anomalies,
        seconds=0.01,
    )
    a, b = one.collect(), many.collect()
    assert a.rows == b.rows
    assert len(a.flagged) == len(b.flagged) == 2


class FailingSink:
    def __init__(self) -> None:
        self.fail = True
        self.rows: list[StatsRow] = []

    def upsert(self, rows: list[StatsRow]) -> None:
        if self.fail:
            raise ConnectionError("database down")
        self.rows.extend(rows)

    def add_flagged(self, rows: list[object]) -> None:
        if self.fail:
            raise ConnectionError("database down")


def test_a_failed_flush_is_written_again_with_everything_counted_since() -> None:
    clock = Clock(3 * HOUR + 3599)
    recorder = StatsRecorder(source="p", max_series=10, clock=clock)
    sink = FailingSink()
    outcomes: list[bool] = []
    flusher = StatsFlusher(
        recorder=recorder,
        stats=sink,
        flagged=sink,
        interval_seconds=60,
        observe=lambda ok, _seconds: outcomes.append(ok),
    )
    record(recorder, scorer(), 0.5)
    assert flusher.flush() is False
    record(recorder, scorer(), 0.5)
    clock.now = 4 * HOUR + 5  # the failed hour must still be written after the rollover
    sink.fail = False
    assert flusher.flush() is True
    record(recorder, scorer(), 0.5)
    assert flusher.flush() is True
    assert [(r.hour, r.requests) for r in sink.rows] == [(3, 2), (4, 1)]
    assert outcomes == [False, True, True]


@pytest.mark.parametrize("seconds", [0.0, 1e-7, 0.0005, 2.0, 1e6])
def test_any_latency_lands_in_a_bucket(seconds: float) -> None:
    recorder = StatsRecorder(source="p", max_series=10, clock=Clock(HOUR))
    recorder.record(scorer(), value=0.0, timestamp=0.0, anomaly=False, score=0.0, seconds=seconds)
    (row,) = recorder.collect().rows
    assert sum(row.latency.values()) == 1


def test_disabled_statistics_count_nothing() -> None:
    recorder = DisabledStats(source="p", max_series=10, clock=Clock(HOUR))
    record(recorder, scorer(), 0.5, anomaly=True)
    recorder.record_error(scorer().key)
    assert not recorder.collect()
