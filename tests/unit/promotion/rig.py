"""A promotion service over a SQLite metadata DB, the in-memory registry and a fake clock."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seriesguard.core import sketch
from seriesguard.core.detectors import ZScoreDetector
from seriesguard.core.monitoring import REFERENCE_BINS, StatsRow, hour_of
from seriesguard.core.rollout import CanaryConfig, CanaryPolicy, ShadowConfig, ShadowPolicy
from seriesguard.core.stages import Stage
from seriesguard.notify.base import RecordingNotifier
from seriesguard.promotion.effects import RolloutEffects
from seriesguard.promotion.evidence import EvidenceReader
from seriesguard.promotion.rollout import PromotionService, RolloutPolicy
from seriesguard.promotion.service import ModelService
from seriesguard.registry.base import TrainingRecord
from seriesguard.registry.memory import MemoryRegistry
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade
from seriesguard.store.promotions import PromotionRepository
from seriesguard.store.stats import SeriesStatsRepository

START = 1_800_000_000.0
HOUR = 3600.0
FAST_CANARY = CanaryConfig(
    initial_percentage=5.0, increment_percentage=15.0, increment_interval_seconds=600.0
)
POLICY = RolloutPolicy(
    canary_defaults=FAST_CANARY,
    shadow_defaults=ShadowConfig(duration_seconds=HOUR, canary=FAST_CANARY),
    canary=CanaryPolicy(min_requests=200),
    shadow=ShadowPolicy(min_requests=300),
)


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Arm:
    """Cumulative counts of one version in one hour, as a predictor process writes them."""

    requests: int = 0
    errors: int = 0
    anomalies: int = 0
    agreements: int = 0
    latency: dict[int, int] = field(default_factory=dict)


@dataclass
class Rig:
    registry: MemoryRegistry
    catalog: CatalogRepository
    stats: SeriesStatsRepository
    store: PromotionRepository
    models: ModelService
    effects: RolloutEffects
    service: PromotionService
    notifier: RecordingNotifier
    clock: Clock
    reloaded: list[str]
    arms: dict[tuple[str, int, int], Arm] = field(default_factory=dict)

    def version(self, series_id: str, *, sigma: float = 3.0, level: float = 10.0) -> int:
        """Register a Staging version (and mirror it into the catalog, as training does)."""
        values = np.random.default_rng(int(level * 10)).normal(level, 1.0, 300)
        detector = ZScoreDetector.fit(values, np.arange(300.0), {"threshold_sigma": sigma})
        registered = self.registry.register(
            TrainingRecord(
                series_id=series_id,
                job_id=str(uuid.uuid4()),
                detector=detector,
                metrics={},
                params={},
            )
        )
        self.catalog.record_version(registered, stats=None)
        return registered.version

    def production(self, series_id: str, **kwargs: float) -> int:
        version = self.version(series_id, **kwargs)
        self.models.make_production(series_id=series_id, version=version, archive_existing=True)
        return version

    def traffic(
        self,
        series_id: str,
        version: int,
        *,
        requests: int,
        errors: int = 0,
        anomalies: int = 0,
        agreements: int = 0,
        latency_ms: float = 2.0,
    ) -> None:
        """Add counts to the version's row of the current hour and flush it (cumulative)."""
        hour = hour_of(self.clock.now)
        arm = self.arms.setdefault((series_id, version, hour), Arm())
        arm.requests += requests
        arm.errors += errors
        arm.anomalies += anomalies
        arm.agreements += agreements
        bucket = sketch.bucket_of(latency_ms / 1000.0)
        arm.latency[bucket] = arm.latency.get(bucket, 0) + requests
        self.stats.upsert(
            [
                StatsRow(
                    series_id=series_id,
                    version=version,
                    hour=hour,
                    source="pod-1",
                    requests=arm.requests,
                    errors=arm.errors,
                    anomalies=arm.anomalies,
                    latency=dict(arm.latency),
                    bins=(0,) * REFERENCE_BINS,
                    agreements=arm.agreements,
                )
            ]
        )

    def stages(self, series_id: str) -> Mapping[int, Stage]:
        return {v.version: v.stage for v in self.registry.list_versions(series_id=series_id)}

    def alias(self, series_id: str, alias: str) -> int | None:
        found = self.registry.get_by_alias(series_id=series_id, alias=alias)
        return None if found is None else found.version


def build_rig(folder: Path, *, policy: RolloutPolicy = POLICY) -> Rig:
    engine = create_db_engine(f"sqlite:///{folder / 'meta.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    registry = MemoryRegistry()
    catalog = CatalogRepository(sessions)
    stats = SeriesStatsRepository(sessions)
    store = PromotionRepository(sessions)
    reloaded: list[str] = []
    models = ModelService(
        registry=registry,
        catalog=catalog,
        on_change=reloaded.append,
        active_promotion=store.active_id,
    )
    effects = RolloutEffects(
        registry=registry, catalog=catalog, models=models, on_change=reloaded.append
    )
    notifier = RecordingNotifier()
    clock = Clock()
    service = PromotionService(
        promotions=store,
        evidence=EvidenceReader(stats=stats, promotions=store),
        effects=effects,
        registry=registry,
        notifier=notifier,
        policy=policy,
        clock=clock,
    )
    return Rig(
        registry=registry,
        catalog=catalog,
        stats=stats,
        store=store,
        models=models,
        effects=effects,
        service=service,
        notifier=notifier,
        clock=clock,
        reloaded=reloaded,
    )
