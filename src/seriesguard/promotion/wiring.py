"""The promotion service of a process, built from the settings."""

from __future__ import annotations

from collections.abc import Callable

from seriesguard.core.monitoring import SECONDS_PER_HOUR as HOUR
from seriesguard.core.rollout import (
    SECONDS_PER_HOUR,
    CanaryConfig,
    CanaryPolicy,
    ShadowConfig,
    ShadowPolicy,
)
from seriesguard.notify.base import Notifier
from seriesguard.promotion.effects import RolloutEffects
from seriesguard.promotion.evidence import EvidenceReader
from seriesguard.promotion.rollout import PromotionService, RolloutPolicy
from seriesguard.promotion.service import ModelService
from seriesguard.registry.base import ModelRegistry
from seriesguard.scheduler.service import PeriodicTask
from seriesguard.settings import Settings
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import SessionFactory
from seriesguard.store.promotions import PromotionRepository
from seriesguard.store.stats import SeriesStatsRepository


def rollout_policy(settings: Settings) -> RolloutPolicy:
    canary_defaults = CanaryConfig(
        initial_percentage=settings.canary_initial_percentage,
        increment_percentage=settings.canary_increment_percentage,
        increment_interval_seconds=settings.canary_increment_interval_hours * SECONDS_PER_HOUR,
    )
    return RolloutPolicy(
        canary_defaults=canary_defaults,
        shadow_defaults=ShadowConfig(
            duration_seconds=settings.shadow_duration_hours * SECONDS_PER_HOUR,
            canary=canary_defaults,
        ),
        canary=CanaryPolicy(
            max_error_rate=settings.canary_max_error_rate,
            max_p99_ms=settings.canary_max_p99_ms,
            max_anomaly_deviation=settings.canary_max_anomaly_deviation,
            min_requests=settings.canary_min_requests,
            alpha=settings.canary_alpha,
        ),
        shadow=ShadowPolicy(
            min_requests=settings.shadow_min_requests,
            min_agreement=settings.shadow_min_agreement,
            max_latency_ratio=settings.shadow_max_latency_ratio,
            max_p99_ms=settings.canary_max_p99_ms,
            max_error_rate=settings.canary_max_error_rate,
            max_anomaly_deviation=settings.canary_max_anomaly_deviation,
            max_quality_drop=settings.shadow_max_recall_drop,
            alpha=settings.canary_alpha,
        ),
    )


def build_promotions(
    settings: Settings,
    *,
    sessions: SessionFactory,
    promotions: PromotionRepository,
    registry: ModelRegistry,
    catalog: CatalogRepository,
    models: ModelService,
    notifier: Notifier,
    on_change: Callable[[str], object] | None = None,
) -> PromotionService:
    return PromotionService(
        promotions=promotions,
        evidence=EvidenceReader(stats=SeriesStatsRepository(sessions), promotions=promotions),
        effects=RolloutEffects(
            registry=registry, catalog=catalog, models=models, on_change=on_change
        ),
        registry=registry,
        notifier=notifier,
        policy=rollout_policy(settings),
    )


def promotion_tasks(service: PromotionService, settings: Settings) -> list[PeriodicTask]:
    """The scheduler's share: canary steps and shadow verdicts every
    ``promotion_check_seconds``, and finished promotions pruned hourly."""
    keep = settings.scheduler_runs_retention_days * 24 * HOUR
    return [
        PeriodicTask(
            name="promotions",
            interval_seconds=settings.promotion_check_seconds,
            action=service.advance_due,
        ),
        PeriodicTask(
            name="prune_promotions",
            interval_seconds=HOUR,
            action=lambda: service.prune(older_than_seconds=keep),
        ),
    ]
