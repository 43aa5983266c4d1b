"""Canary and shadow versions in the serving catalog, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest

from seriesguard.core.catalog import Challenger, ModelVersion, ServingEntry
from seriesguard.core.errors import InvalidInput, NotFound
from seriesguard.core.monitoring import ReferenceSummary
from seriesguard.core.stages import Stage
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import SessionFactory

pytestmark = pytest.mark.integration

REFERENCE = ReferenceSummary(
    edges=(1.0, 2.0, 3.0), counts=(10, 20, 20, 10), n_points=60, anomaly_rate=0.01
)


def version(number: int, stage: Stage = Stage.STAGING, series: str = "s1") -> ModelVersion:
    return ModelVersion(
        series_id=series,
        version=number,
        stage=stage,
        algorithm="statistical",
        params={"mean": float(number), "std": 1.0, "threshold_sigma": 3.0},
        created_at=time.time(),
        reference=REFERENCE if number == 2 else None,
    )


@pytest.fixture()
def catalog(sessions: SessionFactory) -> CatalogRepository:
    catalog = CatalogRepository(sessions)
    catalog.record_version(version(1, Stage.PRODUCTION), stats=None)
    catalog.record_version(version(2), stats=None)
    catalog.record_version(version(3), stats=None)
    return catalog


def only_entry(catalog: CatalogRepository, since: int) -> ServingEntry:
    changes = catalog.changes_since(since)
    assert [c.series_id for c in changes] == ["s1"]
    entry = changes[0].entry
    assert entry is not None
    assert entry == catalog.serving_entry("s1")  # both reads carry the same entry
    return entry


def revision(catalog: CatalogRepository) -> int:
    summary = catalog.get_series("s1")
    assert summary is not None
    return summary.revision


def test_canary_and_shadow_carry_their_versions(catalog: CatalogRepository) -> None:
    start = revision(catalog)
    catalog.set_canary(series_id="s1", version=2, percentage=20.0)
    catalog.set_shadow(series_id="s1", version=3)
    entry = only_entry(catalog, start)
    assert entry.version == 1 and entry.params["mean"] == 1.0  # production unchanged
    assert entry.canary == Challenger(
        version=2,
        algorithm="statistical",
        params={"mean": 2.0, "std": 1.0, "threshold_sigma": 3.0},
        reference=REFERENCE,
        percentage=20.0,
    )
    assert entry.shadow is not None and entry.shadow.version == 3
    assert entry.shadow.params["mean"] == 3.0 and entry.shadow.percentage is None
    assert entry.shadow.reference is None
    summary = catalog.get_series("s1")
    assert summary is not None
    assert (summary.canary_version, summary.canary_percentage, summary.shadow_version) == (
        2,
        20.0,
        3,
    )


def test_set_is_idempotent_and_moves_the_weight(catalog: CatalogRepository) -> None:
    catalog.set_canary(series_id="s1", version=2, percentage=5.0)
    catalog.set_canary(series_id="s1", version=2, percentage=5.0)
    catalog.set_canary(series_id="s1", version=2, percentage=50.0)
    entry = catalog.serving_entry("s1")
    assert entry is not None and entry.canary is not None and entry.canary.percentage == 50.0


def test_challengers_survive_stage_changes(catalog: CatalogRepository) -> None:
    catalog.set_canary(series_id="s1", version=2, percentage=5.0)
    catalog.set_shadow(series_id="s1", version=3)
    catalog.set_stage(series_id="s1", version=3, stage=Stage.ARCHIVED)
    catalog.record_version(version(4), stats=None)
    entry = catalog.serving_entry("s1")
    assert entry is not None and entry.canary is not None and entry.shadow is not None
    assert (entry.canary.version, entry.shadow.version) == (2, 3)


def test_clear_bumps_the_revision_and_is_idempotent(catalog: CatalogRepository) -> None:
    catalog.set_canary(series_id="s1", version=2, percentage=5.0)
    catalog.set_shadow(series_id="s1", version=3)
    start = revision(catalog)
    catalog.clear_canary(series_id="s1")
    entry = only_entry(catalog, start)
    assert entry.canary is None and entry.shadow is not None
    catalog.clear_shadow(series_id="s1")
    entry = catalog.serving_entry("s1")
    assert entry is not None and entry.canary is None and entry.shadow is None
    cleared = revision(catalog)
    catalog.clear_canary(series_id="s1")
    catalog.clear_shadow(series_id="s1")
    catalog.clear_shadow(series_id="nobody")
    assert revision(catalog) == cleared  # nothing changed: predictors reload nothing
    summary = catalog.get_series("s1")
    assert summary is not None and summary.canary_version is None


def test_removed_version_leaves_no_challenger(catalog: CatalogRepository) -> None:
    catalog.set_canary(series_id="s1", version=2, percentage=5.0)
    catalog.set_shadow(series_id="s1", version=2)
    catalog.remove_version(series_id="s1", version=2)
    entry = catalog.serving_entry("s1")
    assert entry is not None and entry.canary is None and entry.shadow is None


def test_unknown_version_or_bad_weight_is_refused(catalog: CatalogRepository) -> None:
    with pytest.raises(NotFound) as refused:
        catalog.set_canary(series_id="s1", version=9, percentage=5.0)
    assert isinstance(refused.value, KeyError) and refused.value.loc == ("version",)
    with pytest.raises(KeyError):
        catalog.set_shadow(series_id="nobody", version=1)
    with pytest.raises(InvalidInput):
        catalog.set_canary(series_id="s1", version=2, percentage=100.5)
    assert catalog.get_series("nobody") is None  # a refused set leaves no row behind
    entry = catalog.serving_entry("s1")
    assert entry is not None and entry.canary is None and entry.shadow is None


def test_series_without_production_serves_nothing(sessions: SessionFactory) -> None:
    catalog = CatalogRepository(sessions)
    catalog.record_version(version(1, series="s2"), stats=None)
    catalog.set_shadow(series_id="s2", version=1)
    assert catalog.serving_entry("s2") is None
    assert [c.entry for c in catalog.changes_since(0)] == [None]
