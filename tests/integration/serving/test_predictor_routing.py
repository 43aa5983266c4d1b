"""The predictor loads a series' canary and shadow from the catalog, and drops them with it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from seriesguard.core.catalog import ModelVersion
from seriesguard.core.stages import Stage
from seriesguard.registry.memory import MemoryRegistry
from seriesguard.serving.disk_cache import DiskModelCache
from seriesguard.serving.model_table import ModelTable
from seriesguard.serving.predictor import Predictor
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade

pytestmark = pytest.mark.integration


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[tuple[Predictor, CatalogRepository]]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    upgrade(engine)
    catalog = CatalogRepository(session_factory(engine))
    predictor = Predictor(
        catalog=catalog,
        registry=MemoryRegistry(),
        disk_cache=DiskModelCache(tmp_path / "cache"),
        table=ModelTable(lru_size=2, resident_max_bytes=4096),
        negative_cache_seconds=60,
    )
    for number, stage in ((1, Stage.PRODUCTION), (2, Stage.STAGING), (3, Stage.STAGING)):
        catalog.record_version(
            ModelVersion(
                series_id="s1",
                version=number,
                stage=stage,
                algorithm="statistical",
                params={"mean": 0.0, "std": float(number), "threshold_sigma": 3.0},
                created_at=time.time(),
            ),
            stats=None,
        )
    yield predictor, catalog
    engine.dispose()


def test_warm_load_and_polls_follow_canary_and_shadow(
    world: tuple[Predictor, CatalogRepository],
) -> None:
    predictor, catalog = world
    catalog.set_canary(series_id="s1", version=2, percentage=100.0)
    catalog.set_shadow(series_id="s1", version=3)
    predictor.warm_load()
    scorer = predictor.scorer("s1")
    assert scorer.info.version == "v1" and scorer.routing is not None
    answering = scorer.pick(1000.0)
    assert (answering.info.stage, answering.info.version, answering.key) == (
        "canary",
        "v2",
        ("s1", 2),
    )
    assert answering.detector.params()["std"] == 2.0
    assert scorer.routing.shadow is not None and scorer.routing.shadow.key == ("s1", 3)

    catalog.clear_canary(series_id="s1")
    assert predictor.poll_catalog() == 1
    scorer = predictor.scorer("s1")
    assert scorer.pick(1000.0) is scorer  # production answers everything again
    assert scorer.routing is not None and scorer.routing.shadow is not None

    catalog.clear_shadow(series_id="s1")
    predictor.poll_catalog()
    assert predictor.scorer("s1").routing is None


def test_reload_brings_the_challengers_back(world: tuple[Predictor, CatalogRepository]) -> None:
    predictor, catalog = world
    predictor.warm_load()
    assert predictor.scorer("s1").routing is None
    catalog.set_canary(series_id="s1", version=3, percentage=100.0)
    loaded = predictor.reload("s1")  # eager: the admin endpoint, before any poll
    assert loaded is not None and loaded.canary is not None and loaded.canary.version == 3
    assert predictor.scorer("s1").pick(5.0).info.version == "v3"


def test_unloadable_challenger_leaves_production_serving(
    world: tuple[Predictor, CatalogRepository],
) -> None:
    predictor, catalog = world
    catalog.record_version(
        ModelVersion(
            series_id="s1",
            version=4,
            stage=Stage.STAGING,
            algorithm="no-such-algorithm",
            params={},
            created_at=time.time(),
        ),
        stats=None,
    )
    catalog.set_canary(series_id="s1", version=4, percentage=50.0)
    predictor.warm_load()
    scorer = predictor.scorer("s1")
    assert scorer.info.version == "v1" and scorer.routing is None
