"""The fleet at a glance, for the dashboard: one document read from the repositories.

Two kinds of figure. The aggregates (series and versions by stage, the window's predictions and
anomalies summed over the hourly statistics) scan whole tables: they come from a
:class:`~seriesguard.monitoring.snapshot.Snapshot` per window, refreshed behind the readers, and
the answer says when they were taken. The rest is read on every request through an index and
stays small at any fleet size: jobs by state, the queue, rollouts in progress, the latest drift
run's alerts, recent rollbacks. The broker being down is reported in the answer, not raised.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from seriesguard.core.errors import Unavailable
from seriesguard.core.jobs import JobStatus
from seriesguard.core.monitoring import SECONDS_PER_HOUR, DriftFinding, DriftRun, hour_of
from seriesguard.core.rollout import Promotion, State
from seriesguard.monitoring.snapshot import Snapshot
from seriesguard.promotion.rollout import PromotionService
from seriesguard.queue.base import JobQueue
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.drift import DriftRepository
from seriesguard.store.jobs import JobRepository
from seriesguard.store.stats import SeriesStatsRepository

MAX_ROLLOUTS = 50
MAX_ALERTS = 20
MAX_ROLLBACKS = 10
ENDED_BADLY = (State.ROLLED_BACK, State.REJECTED)


@dataclass(frozen=True)
class QueueDepth:
    name: str
    ready_messages: int | None  # None: the broker could not be asked
    broker_error: str | None = None


@dataclass(frozen=True)
class AnomalyTotals:
    """Predictions answered (requests less errors) and anomalies flagged over the window."""

    window_seconds: int
    predictions: int
    anomalies: int

    @property
    def rate(self) -> float | None:
        return self.anomalies / self.predictions if self.predictions else None


@dataclass(frozen=True)
class DriftAlerts:
    """The latest finished drift run and the first of what it found drifted."""

    last_run: DriftRun | None
    alerts: list[DriftFinding]
    total: int


@dataclass(frozen=True)
class FleetAggregates:
    """The figures that scan whole tables."""

    series: dict[str, int]  # total, production, staging, canary, shadow, without_production
    versions_by_stage: dict[str, int]
    anomalies: AnomalyTotals


@dataclass(frozen=True)
class FleetOverview:
    generated_at: float
    aggregates_at: float  # when the aggregates below were taken (<= generated_at)
    series: dict[str, int]  # total, production, staging, canary, shadow, without_production
    versions_by_stage: dict[str, int]
    jobs: dict[str, int]  # every JobStatus
    queue: QueueDepth
    anomalies: AnomalyTotals
    rollouts: list[Promotion]  # unfinished, newest first
    rollouts_total: int
    drift: DriftAlerts
    rollbacks: list[Promotion]  # finished rolled back or rejected, newest first


class FleetOverviewService:
    def __init__(
        self,
        *,
        catalog: CatalogRepository,
        stats: SeriesStatsRepository,
        jobs: JobRepository,
        queue: JobQueue,
        queue_name: str,
        promotions: PromotionService,
        drift_runs: DriftRepository,
        aggregates_max_age: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``aggregates_max_age``: seconds before a reader refreshes the aggregates (in the
        background); 0 computes them on every request."""
        self._catalog = catalog
        self._stats = stats
        self._jobs = jobs
        self._queue = queue
        self._queue_name = queue_name
        self._promotions = promotions
        self._drift_runs = drift_runs
        self._clock = clock
        self._max_age = aggregates_max_age
        self._snapshots: dict[int, Snapshot[FleetAggregates]] = {}
        self._snapshots_lock = threading.Lock()

    def overview(self, *, window_seconds: int) -> FleetOverview:
        """The fleet now; the anomaly rate over the last ``window_seconds`` (whole hours)."""
        aggregates = self._snapshot(window_seconds).get()
        rollouts, rollouts_total = self._promotions.list(active=True, limit=MAX_ROLLOUTS)
        return FleetOverview(
            generated_at=self._clock(),
            aggregates_at=aggregates.at,
            series=aggregates.value.series,
            versions_by_stage=aggregates.value.versions_by_stage,
            jobs=self.job_counts(),
            queue=self.queue_depth(),
            anomalies=aggregates.value.anomalies,
            rollouts=rollouts,
            rollouts_total=rollouts_total,
            drift=self.drift_alerts(),
            rollbacks=self.recent_rollbacks(),
        )

    def aggregates(self, *, window_seconds: int) -> FleetAggregates:
        """The scanning figures, computed now."""
        return FleetAggregates(
            series=self._catalog.stage_counts(),
            versions_by_stage=self._catalog.version_stage_counts(),
            anomalies=self.anomaly_totals(window_seconds=window_seconds, now=self._clock()),
        )

    def _snapshot(self, window_seconds: int) -> Snapshot[FleetAggregates]:
        with self._snapshots_lock:
            snapshot = self._snapshots.get(window_seconds)
            if snapshot is None:
                snapshot = Snapshot(
                    lambda: self.aggregates(window_seconds=window_seconds),
                    max_age=self._max_age,
                    clock=self._clock,
                )
                self._snapshots[window_seconds] = snapshot
            return snapshot

    def job_counts(self) -> dict[str, int]:
        counts = self._jobs.count_by_status()
        return {status.value: counts.get(status.value, 0) for status in JobStatus}

    def queue_depth(self) -> QueueDepth:
        try:
            return QueueDepth(self._queue_name, self._queue.depth())
        except Unavailable as exc:
            return QueueDepth(self._queue_name, None, exc.message)

    def anomaly_totals(self, *, window_seconds: int, now: float) -> AnomalyTotals:
        last_hour = hour_of(now)
        first_hour = last_hour - window_seconds // SECONDS_PER_HOUR + 1
        requests, errors, anomalies = self._stats.fleet_totals(
            since_hour=first_hour, until_hour=last_hour
        )
        return AnomalyTotals(window_seconds, max(0, requests - errors), anomalies)

    def drift_alerts(self) -> DriftAlerts:
        run = self._drift_runs.latest_finished()
        if run is None:
            return DriftAlerts(None, [], 0)
        alerts = self._drift_runs.findings(run_id=run.id, limit=MAX_ALERTS)
        return DriftAlerts(run, alerts, self._drift_runs.count_findings(run.id))

    def recent_rollbacks(self) -> list[Promotion]:
        """Newest first by start, like every promotion listing; one short page per end state."""
        found: list[Promotion] = []
        for state in ENDED_BADLY:
            page, _ = self._promotions.list(state=state.value, limit=MAX_ROLLBACKS)
            found += page
        found.sort(key=lambda p: (-p.created_at, p.id))
        return found[:MAX_ROLLBACKS]
