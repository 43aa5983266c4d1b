"""The training backlog alert (seed: TrainingQueueBacklog, queue depth > 1000)."""

from __future__ import annotations

import logging
from typing import Protocol

from seriesguard.core.jobs import JobStatus
from seriesguard.notify import Alert, Notifier, Severity

log = logging.getLogger(__name__)
ALERT_KIND = "queue_backlog"


class JobCounts(Protocol):
    def count_with_status(self, status: JobStatus) -> int: ...


class BacklogWatch:
    """Every ``backlog_check_seconds``: more queued jobs than ``threshold`` -> an alert.

    The job table, not the broker, is counted: it is the truth in both deployments, and a
    broker's depth misses jobs waiting for a republish. The same key every time, so the
    notifier's cooldown sends it once per cooldown however long the backlog lasts."""

    def __init__(self, *, jobs: JobCounts, notifier: Notifier, threshold: int) -> None:
        self._jobs = jobs
        self._notifier = notifier
        self._threshold = threshold

    def check(self) -> int:
        """Count the queued jobs, alert when above the threshold; returns the count."""
        queued = self._jobs.count_with_status(JobStatus.QUEUED)
        if queued > self._threshold:
            log.warning("training backlog: %d jobs queued (threshold %d)", queued, self._threshold)
            self._notifier.notify(
                Alert(
                    kind=ALERT_KIND,
                    severity=Severity.ERROR,
                    summary=f"{queued} training jobs are queued (threshold "
                    f"{self._threshold}): workers are not keeping up",
                    details={"queued": queued, "threshold": self._threshold},
                    dedup_key=ALERT_KIND,
                )
            )
        return queued
