"""The history store on SQLite and PostgreSQL: idempotent writes, windows, chunked pruning,
and training from the stored history."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from tests.integration.training.recording_queue import RecordingQueue

from seriesguard.core.errors import InvalidInput
from seriesguard.core.history import PointBatch
from seriesguard.core.jobs import JobStatus
from seriesguard.core.validation import PointLimits
from seriesguard.history.flusher import HistoryFlusher
from seriesguard.history.recorder import HistoryRecorder
from seriesguard.history.store import HistoryStore
from seriesguard.registry.memory import MemoryRegistry
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import SessionFactory
from seriesguard.store.jobs import JobRepository
from seriesguard.training.data import LocalDataStore
from seriesguard.training.service import TrainingConfig, TrainingService

pytestmark = pytest.mark.integration


def batch(series_id: str, ts: list[float], values: list[float] | None = None) -> PointBatch:
    array = np.array(ts, dtype=np.float64)
    vs = np.array(values if values is not None else [t / 10 for t in ts], dtype=np.float64)
    return PointBatch(series_ids=[series_id] * len(ts), timestamps=array, values=vs)


def test_writes_are_idempotent_and_the_first_value_stays(sessions: SessionFactory) -> None:
    store = HistoryStore(sessions)
    assert store.add(batch("s1", [1.0, 2.0, 3.0])) == 3
    # a retried flush, and a batch holding the same key twice: nothing new twice
    mixed = PointBatch(
        series_ids=["s1", "s1", "s2", "s2"],
        timestamps=np.array([3.0, 4.0, 1.0, 1.0]),
        values=np.array([99.0, 0.4, 7.0, 8.0]),
    )
    assert store.add(mixed) == 2
    assert store.add(mixed) == 0
    assert (store.count("s1"), store.count("s2"), store.count("nobody")) == (4, 1, 0)
    window = store.window(series_id="s1", start=0.0, end=10.0)
    assert window.timestamps.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert window.values.tolist() == [0.1, 0.2, 0.3, 0.4]  # 3.0 kept its first value


def test_a_window_is_start_exclusive_end_inclusive_and_capped_to_the_newest(
    sessions: SessionFactory,
) -> None:
    store = HistoryStore(sessions)
    store.add(batch("s1", [5.0, 1.0, 3.0, 2.0, 4.0]))  # any order in, time order out
    store.add(batch("other", [2.5, 3.5]))
    assert store.window(series_id="s1", start=1.0, end=4.0).timestamps.tolist() == [2.0, 3.0, 4.0]
    newest = store.window(series_id="s1", start=0.0, end=10.0, limit=2)
    assert newest.timestamps.tolist() == [4.0, 5.0] and newest.values.tolist() == [0.4, 0.5]
    empty = store.window(series_id="s1", start=10.0, end=20.0)
    assert len(empty) == 0 and empty.timestamps.dtype == np.float64


def test_prune_deletes_in_chunks_everything_older(sessions: SessionFactory) -> None:
    store = HistoryStore(sessions, prune_chunk=3)
    store.add(batch("s1", [float(t) for t in range(10)]))
    store.add(batch("s2", [float(t) for t in range(5, 12)]))
    assert store.prune(older_than=7.0) == 7 + 2
    assert store.window(series_id="s1", start=-1, end=100).timestamps.tolist() == [7.0, 8.0, 9.0]
    assert store.count("s2") == 5
    assert store.prune(older_than=7.0) == 0


def test_the_flusher_writes_what_the_predictor_recorded(sessions: SessionFactory) -> None:
    store = HistoryStore(sessions)
    recorder = HistoryRecorder(max_pending=1000)
    for i in range(50):
        recorder.record(f"s{i % 5}", float(i), float(i))
    recorder.record("s0", 0.0, 123.0)  # the same point scored twice: stored once
    flusher = HistoryFlusher(recorder=recorder, store=store, interval_seconds=3600)
    assert flusher.flush() is True
    assert flusher.written == 50 and recorder.pending == 0
    assert store.window(series_id="s0", start=-1, end=100).values.tolist()[:2] == [0.0, 5.0]


@pytest.fixture()
def training(sessions: SessionFactory, tmp_path: Path) -> tuple[TrainingService, HistoryStore]:
    store = HistoryStore(sessions)
    service = TrainingService(
        jobs=JobRepository(sessions),
        catalog=CatalogRepository(sessions),
        registry=MemoryRegistry(),
        queue=RecordingQueue(),
        data=LocalDataStore(tmp_path / "data"),
        limits=PointLimits(100, 150),
        min_interval_seconds=0,
        history=store,
    )
    return service, store


def test_training_from_history_reads_the_window_and_trains_like_any_job(
    training: tuple[TrainingService, HistoryStore],
) -> None:
    service, store = training
    now = time.time()
    rng = np.random.default_rng(3)
    ts = [now - 30.0 - 60.0 * (179 - i) for i in range(180)]  # 3 hours, one a minute
    store.add(batch("s1", ts, rng.normal(5, 1, 180).tolist()))
    job = service.submit_from_history(
        series_id="s1", window_hours=2, config=TrainingConfig(), submitted_by="alice"
    )
    # the last 2 hours hold 120 points; under the cap of 150, all are taken
    assert job.n_points == 120 and job.submitted_by == "alice"
    assert job.window_start > now - 7200 and job.window_end == ts[-1]
    service.run(job.id)
    assert service.get(job.id).status is JobStatus.COMPLETED
    capped = service.submit_from_history(series_id="s1", window_hours=3, config=TrainingConfig())
    assert capped.n_points == 150 and capped.window_end == ts[-1]  # the newest 150


def test_too_little_history_says_how_much_was_found_where(
    training: tuple[TrainingService, HistoryStore],
) -> None:
    service, store = training
    store.add(batch("s1", [time.time() - 60.0 * i for i in range(1, 41)]))
    with pytest.raises(InvalidInput) as caught:
        service.submit_from_history(series_id="s1", window_hours=168, config=TrainingConfig())
    assert caught.value.rule == "insufficient_history"
    assert caught.value.loc == ("body", "config", "window_hours")
    assert "40 points" in caught.value.message and "168 h" in caught.value.message
    assert "at least 100" in caught.value.message
