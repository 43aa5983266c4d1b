"""Bulk ingestion rules and retention, over an in-memory store."""

from __future__ import annotations

import pytest

from seriesguard.core.errors import InvalidInput
from seriesguard.core.history import PointBatch
from seriesguard.core.validation import TrainingData
from seriesguard.history.flusher import HistoryFlusher
from seriesguard.history.recorder import HistoryRecorder
from seriesguard.history.service import HistoryService

NOW = 2_000_000_000.0
DAY = 86_400.0


class MemoryHistory:
    def __init__(self) -> None:
        self.points: dict[tuple[str, float], float] = {}
        self.down = False
        self.pruned_before: list[float] = []

    def add(self, points: PointBatch) -> int:
        if self.down:
            raise ConnectionError("database down")
        new = 0
        for sid, ts, value in zip(
            points.series_ids, points.timestamps.tolist(), points.values.tolist(), strict=True
        ):
            if (sid, ts) not in self.points:
                self.points[(sid, ts)] = value
                new += 1
        return new

    def window(
        self, *, series_id: str, start: float, end: float, limit: int | None = None
    ) -> TrainingData:
        raise NotImplementedError

    def count(self, series_id: str) -> int:
        return sum(1 for sid, _ in self.points if sid == series_id)

    def prune(self, *, older_than: float) -> int:
        self.pruned_before.append(older_than)
        return 0


@pytest.fixture()
def service() -> HistoryService:
    return HistoryService(store=MemoryHistory(), retention_days=14, max_points=5, clock=lambda: NOW)


def test_ingest_is_idempotent_and_says_what_was_new(service: HistoryService) -> None:
    ts = [NOW - 30.0, NOW - 20.0, NOW - 10.0]
    first = service.ingest(series_id="s1", timestamps=ts, values=[1.0, 2.0, 3.0])
    assert (first.accepted, first.duplicates) == (3, 0)
    assert (first.first, first.last) == (NOW - 30.0, NOW - 10.0)
    assert first.retained_until == NOW - 30.0 + 14 * DAY
    again = service.ingest(series_id="s1", timestamps=[*ts, NOW], values=[9.0, 9.0, 9.0, 4.0])
    assert (again.accepted, again.duplicates) == (1, 3)
    assert service.store.count("s1") == 4


def test_ingest_takes_iso_text_and_an_empty_body(service: HistoryService) -> None:
    result = service.ingest(
        series_id="s1", timestamps=["2033-05-18T03:33:00Z", "2033-05-18T03:33:10Z"], values=[1, 2]
    )
    assert (result.accepted, result.first, result.last) == (2, NOW - 20.0, NOW - 10.0)
    empty = service.ingest(series_id="s1", timestamps=[], values=[])
    assert (empty.accepted, empty.first, empty.retained_until) == (0, None, None)


@pytest.mark.parametrize(
    ("timestamps", "values", "rule", "loc"),
    [
        ([NOW - 1, NOW], [1.0], "length_mismatch", ("body", "timestamps")),
        ([NOW - 2, NOW - 2], [1.0, 2.0], "duplicate_timestamp", ("body", "timestamps", 1)),
        ([NOW - 1, NOW - 2], [1.0, 2.0], "strictly_increasing", ("body", "timestamps", 1)),
        ([NOW - 1, NOW], [1.0, float("nan")], "finite_values", ("body", "values", 1)),
        ([NOW - 15 * DAY, NOW], [1.0, 2.0], "beyond_retention", ("body", "timestamps", 0)),
        ([NOW + i for i in range(6)], [1.0] * 6, "max_points", ("body", "values")),
        (["yesterday"], [1.0], "timestamp_format", ("body", "timestamps", 0)),
    ],
)
def test_bad_points_are_refused_naming_rule_and_place(
    service: HistoryService, timestamps: list[object], values: list[float], rule: str, loc: tuple
) -> None:
    with pytest.raises(InvalidInput) as caught:
        service.ingest(series_id="s1", timestamps=timestamps, values=values)
    assert (caught.value.rule, caught.value.loc) == (rule, loc)
    assert service.store.count("s1") == 0


def test_a_constant_series_is_fine_to_keep(service: HistoryService) -> None:
    # the spread rule is a training rule: a flat sensor hour is still history
    assert service.ingest(series_id="s1", timestamps=[NOW - 1, NOW], values=[5, 5]).accepted == 2


def test_prune_deletes_before_now_minus_the_retention(service: HistoryService) -> None:
    service.prune()
    assert service.store.pruned_before == [NOW - 14 * DAY]  # type: ignore[attr-defined]


def test_flusher_keeps_points_through_a_failed_write_and_flushes_at_stop() -> None:
    store, recorder = MemoryHistory(), HistoryRecorder(max_pending=100)
    flusher = HistoryFlusher(recorder=recorder, store=store, interval_seconds=3600)
    recorder.record("s1", 1.0, 1.0)
    store.down = True
    assert flusher.flush() is False
    assert recorder.pending == 1
    store.down = False
    recorder.record("s1", 2.0, 2.0)
    flusher.start()
    flusher.stop()  # the last flush
    assert store.points == {("s1", 1.0): 1.0, ("s1", 2.0): 2.0}
    assert flusher.written == 2 and recorder.pending == 0
