"""The fallback chain: memory -> catalog -> registry -> disk cache -> statistics -> default."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from seriesguard.core.catalog import ModelVersion, SeriesStats
from seriesguard.core.detectors import ZScoreDetector
from seriesguard.core.stages import Stage
from seriesguard.registry.base import TrainingRecord
from seriesguard.registry.memory import MemoryRegistry
from seriesguard.serving.disk_cache import DiskModelCache
from seriesguard.serving.model_table import LoadedModel, ModelTable
from seriesguard.serving.predictor import Predictor
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade


@pytest.fixture()
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = create_db_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    upgrade(engine)
    catalog = CatalogRepository(session_factory(engine))
    registry = MemoryRegistry()
    predictor = Predictor(
        catalog=catalog,
        registry=registry,
        disk_cache=DiskModelCache(tmp_path / "cache"),
        table=ModelTable(lru_size=2, resident_max_bytes=4096),
        negative_cache_seconds=60,
    )
    yield predictor, catalog, registry
    engine.dispose()


def produce(catalog: CatalogRepository, series: str, mean: float) -> None:
    catalog.record_version(
        ModelVersion(
            series_id=series,
            version=1,
            stage=Stage.STAGING,
            algorithm="statistical",
            params={"mean": mean, "std": 1.0, "threshold_sigma": 3.0},
            created_at=time.time(),
        ),
        stats=SeriesStats(mean=mean, std=1.0, n_points=100),
    )
    catalog.set_stage(series_id=series, version=1, stage=Stage.PRODUCTION)


def test_warm_load_serves_from_memory_with_high_confidence(world) -> None:  # type: ignore[no-untyped-def]
    predictor, catalog, _ = world
    produce(catalog, "s1", 10.0)
    assert not predictor.ready
    assert predictor.warm_load() == 1 and predictor.ready
    scorer = predictor.scorer("s1")
    assert (scorer.info.loaded_from, scorer.info.confidence, scorer.info.version) == (
        "memory",
        "high",
        "v1",
    )
    assert scorer.score_one(14.0, 0.0) == (True, 4.0)


def test_promotion_is_noticed_by_polling(world) -> None:  # type: ignore[no-untyped-def]
    predictor, catalog, _ = world
    predictor.warm_load()
    assert predictor.scorer("s2").info.stage == "fallback"
    produce(catalog, "s2", 3.0)
    predictor.poll_catalog()
    assert predictor.scorer("s2").info.version == "v1"


def test_registry_then_disk_cache_then_statistics(world) -> None:  # type: ignore[no-untyped-def]
    predictor, catalog, registry = world
    detector = ZScoreDetector(mean=5.0, std=2.0)
    version = registry.register(
        TrainingRecord(series_id="r1", job_id="j", detector=detector, metrics={}, params={})
    )
    registry.set_stage(series_id="r1", version=version.version, stage=Stage.PRODUCTION)
    first = predictor.scorer("r1")  # not in the catalog: straight from the registry
    assert (first.info.loaded_from, first.info.confidence) == ("mlflow", "high")
    predictor.table.drop("r1")
    registry.available = False
    cached = predictor.scorer("r1")
    assert (cached.info.loaded_from, cached.info.confidence) == ("cache", "medium")
    catalog.record_version(
        ModelVersion(
            series_id="old",
            version=1,
            stage=Stage.ARCHIVED,
            algorithm="statistical",
            params={"mean": 50.0, "std": 5.0},
            created_at=time.time(),
        ),
        stats=SeriesStats(mean=50.0, std=5.0, n_points=100),
    )
    stats = predictor.scorer("old")
    assert (stats.info.loaded_from, stats.info.confidence) == ("statistics", "low")
    assert stats.score_one(60.0, 0.0) == (False, 2.0)
    unknown = predictor.scorer("never-seen")
    assert (unknown.info.loaded_from, unknown.info.type) == ("default", "fallback_zscore")
    assert predictor.table.known_absent("never-seen")


def test_large_models_share_a_bounded_lru() -> None:
    table = ModelTable(lru_size=2, resident_max_bytes=10)
    for name in ("a", "b", "c"):
        table.put(LoadedModel(name, 1, ZScoreDetector(mean=0, std=1), "catalog", size_bytes=100))
    assert table.get("a") is None and table.get("c") is not None and len(table) == 2
    table.put(LoadedModel("tiny", 1, ZScoreDetector(mean=0, std=1), "catalog", size_bytes=5))
    assert table.resident_count == 1


def test_unknown_series_costs_one_catalog_read_per_negative_cache_period(world) -> None:  # type: ignore[no-untyped-def]
    predictor, catalog, _ = world
    reads: list[str] = []
    original = catalog.get_series
    catalog.get_series = lambda series_id: reads.append(series_id) or original(series_id)
    for _ in range(5):
        assert predictor.scorer("ghost").info.loaded_from == "default"
    assert reads == ["ghost"]
    produce(catalog, "ghost", 1.0)
    predictor.poll_catalog()
    assert predictor.scorer("ghost").info.version == "v1"  # a promotion ends the fallback
