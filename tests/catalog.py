"""A home whose serving catalog holds production z-score models, without training them."""

from __future__ import annotations

from pathlib import Path

from seriesguard.core.catalog import ModelVersion
from seriesguard.core.stages import Stage
from seriesguard.settings import Settings
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade


def catalog_with(home: Path, series: list[str]) -> None:
    """Migrate ``home``'s metadata DB and put a production model of each series in it."""
    engine = create_db_engine(Settings(home=home).resolved_database_url())
    upgrade(engine)
    params = {"mean": 0.0, "std": 1.0, "threshold_sigma": 3.0}
    versions = [
        ModelVersion(
            series_id=s, version=1, stage=Stage.PRODUCTION, algorithm="statistical", params=params
        )
        for s in series
    ]
    CatalogRepository(session_factory(engine)).add_new_series(versions, stats=[None] * len(series))
    engine.dispose()
