"""The monitoring pieces of a process, built from the settings: the predictor's statistics
recorder and flusher, the metrics and drift services, retention."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass

from seriesguard.core.monitoring import SECONDS_PER_HOUR, hour_of
from seriesguard.monitoring.fleet import FleetDriftCheck
from seriesguard.monitoring.service import DriftPolicy, MonitoringService
from seriesguard.observability.metrics import Metrics
from seriesguard.serving.stats import DisabledStats, StatsRecorder
from seriesguard.serving.stats_flush import StatsFlusher
from seriesguard.settings import Settings
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import SessionFactory
from seriesguard.store.drift import DriftRepository
from seriesguard.store.feedback import FeedbackRepository, FlaggedRepository
from seriesguard.store.stats import SeriesStatsRepository

log = logging.getLogger(__name__)


@dataclass
class Monitoring:
    recorder: StatsRecorder
    flusher: StatsFlusher
    service: MonitoringService
    drift_check: FleetDriftCheck
    drift_runs: DriftRepository
    retention: Retention


@dataclass
class Retention:
    """Deletes statistics, flagged predictions, ground truth and drift runs past their age."""

    stats: SeriesStatsRepository
    flagged: FlaggedRepository
    feedback: FeedbackRepository
    drift_runs: DriftRepository
    days: int

    def prune(self) -> int:
        before = time.time() - self.days * 24 * SECONDS_PER_HOUR
        removed = self.stats.prune(before_hour=hour_of(before))
        removed += self.flagged.prune(before=before)
        removed += self.feedback.prune(before=before)
        removed += self.drift_runs.prune(before=before)
        if removed:
            log.info("retention: %d monitoring rows older than %d days deleted", removed, self.days)
        return removed


def process_source() -> str:
    """What this process's statistics rows are written under: unique per process start,
    so two pods (or a restarted one) never overwrite each other's counts."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def drift_policy(settings: Settings) -> DriftPolicy:
    return DriftPolicy(
        psi_threshold=settings.drift_psi_threshold,
        min_samples=settings.drift_min_samples,
        alpha=settings.drift_alpha,
        min_rate_change=settings.drift_min_rate_change,
        min_precision_drop=settings.drift_min_precision_drop,
    )


def build_monitoring(
    settings: Settings, *, sessions: SessionFactory, catalog: CatalogRepository, metrics: Metrics
) -> Monitoring:
    stats = SeriesStatsRepository(sessions)
    flagged = FlaggedRepository(sessions)
    feedback = FeedbackRepository(sessions)
    drift_runs = DriftRepository(sessions)
    recorder = (StatsRecorder if settings.stats_enabled else DisabledStats)(
        source=process_source(),
        max_series=settings.stats_max_series,
        prediction_cells=metrics.predictions.cell,
    )
    dropped = [0]

    def observe_flush(ok: bool, seconds: float) -> None:
        metrics.stats_flushes.inc("ok" if ok else "failed")
        metrics.stats_flush_duration.observe(seconds)
        new, dropped[0] = recorder.dropped - dropped[0], recorder.dropped
        if new:
            metrics.stats_dropped.inc(amount=new)

    policy = drift_policy(settings)
    return Monitoring(
        recorder=recorder,
        flusher=StatsFlusher(
            recorder=recorder,
            stats=stats,
            flagged=flagged,
            interval_seconds=settings.stats_flush_seconds,
            observe=observe_flush,
        ),
        service=MonitoringService(stats=stats, feedback=feedback, catalog=catalog, policy=policy),
        drift_check=FleetDriftCheck(stats=stats, catalog=catalog, runs=drift_runs, policy=policy),
        drift_runs=drift_runs,
        retention=Retention(
            stats=stats,
            flagged=flagged,
            feedback=feedback,
            drift_runs=drift_runs,
            days=settings.stats_retention_days,
        ),
    )
