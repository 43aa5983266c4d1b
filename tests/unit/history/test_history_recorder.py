"""The predictor's buffer of scored points: singles and batches, bounded, restorable."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seriesguard.history.recorder import HistoryRecorder


@dataclass
class Runs:
    series_ids: list[str]
    bounds: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]


def runs(*parts: tuple[str, list[float]]) -> Runs:
    ids = [sid for sid, _ in parts]
    lengths = [len(ts) for _, ts in parts]
    ts = np.array([t for _, chunk in parts for t in chunk], dtype=np.float64)
    return Runs(ids, np.cumsum([0, *lengths]).astype(np.int64), ts, ts * 10)


def as_rows(recorder: HistoryRecorder) -> list[tuple[str, float, float]]:
    batch = recorder.collect()
    return list(
        zip(batch.series_ids, batch.timestamps.tolist(), batch.values.tolist(), strict=True)
    )


def test_batches_then_singles_come_out_each_in_arrival_order() -> None:
    recorder = HistoryRecorder(max_pending=100)
    recorder.record("a", 1.0, 10.0)
    recorder.record_batch(runs(("b", [2.0, 3.0]), ("c", [4.0])))
    recorder.record("a", 5.0, 50.0)
    recorder.record_batch(runs(("d", [6.0])))
    assert recorder.pending == 6
    assert as_rows(recorder) == [
        ("b", 2.0, 20.0),
        ("b", 3.0, 30.0),
        ("c", 4.0, 40.0),
        ("d", 6.0, 60.0),
        ("a", 1.0, 10.0),
        ("a", 5.0, 50.0),
    ]
    assert recorder.pending == 0 and len(recorder.collect()) == 0
    assert recorder.recorded == 6


def test_beyond_the_bound_points_are_dropped_batches_first_and_counted() -> None:
    recorder = HistoryRecorder(max_pending=3)
    recorder.record("a", 1.0, 10.0)
    recorder.record_batch(runs(("b", [2.0, 3.0, 4.0])))  # 4 pending: b@2 goes
    assert (recorder.dropped, recorder.pending) == (1, 3)
    recorder.record("c", 5.0, 50.0)  # 4 again: b@3 (a batch is trimmed, not dropped whole)
    recorder.record_batch(runs(("d", [6.0, 7.0])))  # 5: b@4, then d@6 (batch points first)
    assert (recorder.dropped, recorder.pending, recorder.recorded) == (4, 3, 7)
    assert as_rows(recorder) == [("d", 7.0, 70.0), ("a", 1.0, 10.0), ("c", 5.0, 50.0)]
    for i in range(10):  # singles alone: the oldest go
        recorder.record("e", float(i), 0.0)
    assert [t for _, t, _ in as_rows(recorder)] == [7.0, 8.0, 9.0]


def test_restored_points_go_back_ahead_of_newer_ones_within_the_bound() -> None:
    recorder = HistoryRecorder(max_pending=4)
    recorder.record_batch(runs(("a", [1.0, 2.0]), ("b", [3.0])))
    taken = recorder.collect()  # a write that will fail
    recorder.record("c", 4.0, 40.0)
    recorder.record("c", 5.0, 50.0)
    recorder.restore(taken)  # 5 pending: the oldest (a@1) goes
    assert (recorder.dropped, recorder.recorded) == (1, 5)
    assert as_rows(recorder) == [
        ("a", 2.0, 20.0),
        ("b", 3.0, 30.0),
        ("c", 4.0, 40.0),
        ("c", 5.0, 50.0),
    ]


def test_a_disabled_recorder_keeps_nothing() -> None:
    recorder = HistoryRecorder(max_pending=10, enabled=False)
    recorder.record("a", 1.0, 1.0)
    recorder.record_batch(runs(("b", [2.0])))
    assert recorder.pending == 0 and recorder.recorded == 0 and len(recorder.collect()) == 0
