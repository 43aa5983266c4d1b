"""In-process priority queue with a pool of worker threads (``memory://``).

Workers are threads so the event loop never blocks on training; jobs of equal priority run
in the order they were published.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading

from seriesguard.queue.base import Carrier, JobHandler, JobQueue

log = logging.getLogger(__name__)


class InProcessQueue(JobQueue):
    def __init__(self, *, concurrency: int) -> None:
        self._concurrency = concurrency
        # (-priority, publication order, job id, trace context): the order is unique, so the
        # context is never compared
        self._heap: list[tuple[int, int, str, Carrier]] = []
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._stopping = False
        self._threads: list[threading.Thread] = []

    def publish(self, *, job_id: str, priority: int, trace_context: Carrier | None = None) -> None:
        carried = dict(trace_context or {})
        with self._cond:
            heapq.heappush(self._heap, (-priority, next(self._order), job_id, carried))
            self._cond.notify()

    def start(self, handler: JobHandler) -> None:
        self._stopping = False
        for index in range(self._concurrency):
            thread = threading.Thread(
                target=self._work, args=(handler,), name=f"seriesguard-worker-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _work(self, handler: JobHandler) -> None:
        while True:
            with self._cond:
                while not self._heap and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                _, _, job_id, trace_context = heapq.heappop(self._heap)
            try:
                handler(job_id, trace_context)
            except Exception:  # a handler bug must not kill the worker
                log.exception("job handler failed", extra={"job_id": job_id})

    def stop(self, *, timeout: float = 30.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()

    def depth(self) -> int:
        with self._cond:
            return len(self._heap)
