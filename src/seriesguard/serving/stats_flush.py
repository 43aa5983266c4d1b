"""Writes a predictor's per-series statistics to the metadata DB every few seconds.

A failed flush (the DB down) loses nothing that is still in memory: the counters are marked
to be written again, and predictions go on. The last flush runs at shutdown.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from seriesguard.core.monitoring import FlaggedPrediction, StatsRow
from seriesguard.serving.stats import StatsRecorder

log = logging.getLogger(__name__)


class StatsSink(Protocol):
    def upsert(self, rows: Sequence[StatsRow]) -> None: ...


class FlaggedSink(Protocol):
    def add_flagged(self, rows: Sequence[FlaggedPrediction]) -> None: ...


FlushObserver = Callable[[bool, float], None]  # (succeeded, seconds taken)


class StatsFlusher:
    def __init__(
        self,
        *,
        recorder: StatsRecorder,
        stats: StatsSink,
        flagged: FlaggedSink,
        interval_seconds: float,
        observe: FlushObserver | None = None,
    ) -> None:
        self._recorder = recorder
        self._stats = stats
        self._flagged = flagged
        self._interval = interval_seconds
        self._observe = observe
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one flush at a time (the thread, a test, shutdown)

    def flush(self) -> bool:
        """Write what changed since the last flush; False when the DB refused it."""
        with self._lock:
            collected = self._recorder.collect()
            if not collected:
                return True
            started = time.perf_counter()
            try:
                self._stats.upsert(collected.rows)
                self._flagged.add_flagged(collected.flagged)
            except Exception:  # the DB being down must not stop predictions
                self._recorder.restore(collected)
                log.warning(
                    "could not write per-series statistics (%d rows); retrying in %.0fs",
                    len(collected.rows),
                    self._interval,
                    exc_info=True,
                )
                self._report(ok=False, started=started)
                return False
            self._report(ok=True, started=started)
            return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="stats-flusher", daemon=True)
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

    def _report(self, *, ok: bool, started: float) -> None:
        if self._observe is not None:
            self._observe(ok, time.perf_counter() - started)
