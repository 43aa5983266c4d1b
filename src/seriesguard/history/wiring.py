"""The history store's parts, built from the settings (``Runtime`` holds them)."""

from __future__ import annotations

from dataclasses import dataclass

from seriesguard.core.history import MAX_POINTS_PER_REQUEST
from seriesguard.history.flusher import HistoryFlusher
from seriesguard.history.recorder import HistoryRecorder
from seriesguard.history.service import HistoryService
from seriesguard.history.store import HistoryStore
from seriesguard.observability.metrics import Metrics
from seriesguard.settings import Settings
from seriesguard.store.db import SessionFactory


@dataclass(frozen=True)
class History:
    store: HistoryStore
    recorder: HistoryRecorder  # the predictor's (disabled with history_enabled false)
    flusher: HistoryFlusher
    service: HistoryService


def build_history(settings: Settings, *, sessions: SessionFactory, metrics: Metrics) -> History:
    store = HistoryStore(sessions)
    recorder = HistoryRecorder(
        max_pending=settings.history_max_pending_points, enabled=settings.history_enabled
    )
    metrics.history_recorded.set_function(lambda: float(recorder.recorded))
    metrics.history_dropped.set_function(lambda: float(recorder.dropped))
    return History(
        store=store,
        recorder=recorder,
        flusher=HistoryFlusher(
            recorder=recorder, store=store, interval_seconds=settings.history_flush_seconds
        ),
        service=HistoryService(
            store=store,
            retention_days=settings.history_retention_days,
            max_points=MAX_POINTS_PER_REQUEST,
        ),
    )
