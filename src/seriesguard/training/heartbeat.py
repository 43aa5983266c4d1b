"""Processing lease: one thread per worker process renews the lease of every job in hand.

The scheduler's reconciler hands back a job whose row has not changed for the processing
lease (its worker is presumed dead). A live worker's jobs must never look like that however
long they train, so this thread bumps ``updated_at`` of each job in hand every interval, in one
transaction for all of them, fenced on the attempt: a job cancelled, finished or taken over
by another worker is never renewed by this one. When the process dies the beats stop and the
job goes back to the queue after one lease instead of waiting for a long fixed timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from seriesguard.core.jobs import Job
from seriesguard.store.jobs import JobRepository

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, *, jobs: JobRepository, interval_seconds: float) -> None:
        if interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be positive, got {interval_seconds}")
        self._jobs = jobs
        self._interval = interval_seconds
        self._held: dict[str, int] = {}  # job id -> attempt, the jobs in hand
        self._guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def holding(self, job: Job) -> Iterator[None]:
        """Keep ``job``'s lease renewed while the block runs."""
        with self._guard:
            self._held[job.id] = job.attempts
        try:
            yield
        finally:
            with self._guard:
                if self._held.get(job.id) == job.attempts:
                    del self._held[job.id]

    def in_hand(self) -> dict[str, int]:
        """The jobs in hand right now (job id -> attempt)."""
        with self._guard:
            return dict(self._held)

    def beat(self) -> None:
        """Renew every lease in hand now; a failure only logs (the lease has room for it)."""
        held = self.in_hand()
        if not held:
            return
        try:
            renewed = self._jobs.heartbeat(held)
        except Exception:
            log.warning(
                "heartbeat of %d job(s) failed; retrying next beat", len(held), exc_info=True
            )
            return
        for job_id in held.keys() - renewed:
            # Not ours any more: cancelled, or its lease ran out and another worker has it.
            # The training thread finds out under the job lock; stop renewing it meanwhile.
            log.debug("job %s is no longer processing under attempt %d", job_id, held[job_id])
            with self._guard:
                if self._held.get(job_id) == held[job_id]:
                    del self._held[job_id]

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="job-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self.beat()
