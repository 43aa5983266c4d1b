"""Writes a predictor's recorded points to the history store every few seconds.

A failed write (the DB down) loses nothing still in memory: the points go back in front of
the newer ones, bounded by the recorder. The last flush runs at shutdown.
"""

from __future__ import annotations

import logging
import threading

from seriesguard.core.history import PointBatch
from seriesguard.history.recorder import HistoryRecorder
from seriesguard.history.service import PointSink

log = logging.getLogger(__name__)


class HistoryFlusher:
    def __init__(
        self, *, recorder: HistoryRecorder, store: PointSink, interval_seconds: float
    ) -> None:
        self._recorder = recorder
        self._store = store
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one flush at a time (the thread, a test, shutdown)
        self.written = 0  # new points stored (duplicates of stored ones not counted)

    def flush(self) -> bool:
        """Write every pending point; False when the store refused them (kept for later)."""
        with self._lock:
            points = self._recorder.collect()
            if not len(points):
                return True
            return self._write(points)

    def _write(self, points: PointBatch) -> bool:
        try:
            self.written += self._store.add(points)
        except Exception:  # the DB being down must not stop predictions
            self._recorder.restore(points)
            log.warning(
                "could not write %d history point(s); retrying in %.0fs",
                len(points),
                self._interval,
                exc_info=True,
            )
            return False
        return True

    def start(self) -> None:
        if not self._recorder.enabled:
            return
        self._thread = threading.Thread(target=self._loop, name="history-flusher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        self.flush()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()
