"""The fleet overview's reads on SQLite and PostgreSQL: series and versions by stage in one
aggregate, the series list's substring and stage filters, the window's prediction totals, and
the latest finished drift run with its finding count."""

from __future__ import annotations

import time

import pytest

from seriesguard.core.catalog import ModelVersion
from seriesguard.core.errors import InvalidInput
from seriesguard.core.monitoring import REFERENCE_BINS, DriftFinding, DriftRun, StatsRow
from seriesguard.core.stages import Stage
from seriesguard.store.catalog import CatalogRepository, SeriesFilter
from seriesguard.store.db import SessionFactory
from seriesguard.store.drift import DriftRepository
from seriesguard.store.stats import SeriesStatsRepository

pytestmark = pytest.mark.integration


def version(series: str, number: int, stage: Stage) -> ModelVersion:
    return ModelVersion(
        series_id=series,
        version=number,
        stage=stage,
        algorithm="statistical",
        params={"mean": 0.0, "std": 1.0, "threshold_sigma": 3.0},
        created_at=time.time(),
    )


@pytest.fixture()
def catalog(sessions: SessionFactory) -> CatalogRepository:
    """pump_1: Production v1 + canary v2; pump_2: Production v1, Archived v2 + shadow v3;
    fan%1: Staging only; fan_2: Production only; x1: a version in stage None."""
    catalog = CatalogRepository(sessions)
    catalog.record_version(version("pump_1", 1, Stage.PRODUCTION), stats=None)
    catalog.record_version(version("pump_1", 2, Stage.STAGING), stats=None)
    catalog.set_canary(series_id="pump_1", version=2, percentage=10.0)
    catalog.record_version(version("pump_2", 1, Stage.PRODUCTION), stats=None)
    catalog.record_version(version("pump_2", 2, Stage.ARCHIVED), stats=None)
    catalog.record_version(version("pump_2", 3, Stage.STAGING), stats=None)
    catalog.set_shadow(series_id="pump_2", version=3)
    catalog.record_version(version("fan%1", 1, Stage.STAGING), stats=None)
    catalog.record_version(version("fan_2", 1, Stage.PRODUCTION), stats=None)
    catalog.record_version(version("x1", 1, Stage.NONE), stats=None)
    return catalog


def ids(catalog: CatalogRepository, **filters: object) -> tuple[list[str], int]:
    items, total = catalog.list_series(limit=50, **filters)  # type: ignore[arg-type]
    return [s.series_id for s in items], total


def test_stage_counts_come_from_the_series_rows(catalog: CatalogRepository) -> None:
    assert catalog.stage_counts() == {
        "total": 5,
        "production": 3,
        "staging": 3,
        "canary": 1,
        "shadow": 1,
        "without_production": 2,
    }


def test_versions_by_stage_name_every_stage(catalog: CatalogRepository) -> None:
    assert catalog.version_stage_counts() == {
        "Production": 3,
        "Staging": 3,
        "Archived": 1,
        "None": 1,
    }


def test_empty_catalog_counts_zero(sessions: SessionFactory) -> None:
    empty = CatalogRepository(sessions)
    assert set(empty.stage_counts().values()) == {0}
    assert set(empty.version_stage_counts().values()) == {0}


def test_list_by_stage(catalog: CatalogRepository) -> None:
    assert ids(catalog, stage=SeriesFilter.PRODUCTION) == (["fan_2", "pump_1", "pump_2"], 3)
    assert ids(catalog, stage=SeriesFilter.STAGING) == (["fan%1", "pump_1", "pump_2"], 3)
    assert ids(catalog, stage=SeriesFilter.CANARY) == (["pump_1"], 1)
    assert ids(catalog, stage=SeriesFilter.SHADOW) == (["pump_2"], 1)
    assert ids(catalog, stage=SeriesFilter.NONE) == (["fan%1", "x1"], 2)


def test_contains_is_a_literal_substring(catalog: CatalogRepository) -> None:
    assert ids(catalog, contains="mp_") == (["pump_1", "pump_2"], 2)
    assert ids(catalog, contains="%") == (["fan%1"], 1)  # not a wildcard
    assert ids(catalog, contains="_") == (["fan_2", "pump_1", "pump_2"], 3)  # nor this
    assert ids(catalog, contains="n_2", stage=SeriesFilter.PRODUCTION) == (["fan_2"], 1)
    assert ids(catalog, contains="pump", stage=SeriesFilter.NONE) == ([], 0)
    assert ids(catalog, prefix="pump", contains="2") == (["pump_2"], 1)


def test_the_total_counts_past_the_page(catalog: CatalogRepository) -> None:
    items, total = catalog.list_series(limit=1, offset=1, stage=SeriesFilter.PRODUCTION)
    assert ([s.series_id for s in items], total) == (["pump_1"], 3)
    assert items[0].canary_version == 2 and items[0].shadow_version is None


def test_a_stage_filter_is_parsed_or_refused_with_its_place() -> None:
    assert SeriesFilter.parse("Canary") is SeriesFilter.CANARY
    with pytest.raises(InvalidInput) as caught:
        SeriesFilter.parse("gold")
    assert (caught.value.rule, caught.value.loc) == ("series_stage_filter", ("query", "stage"))


def row(series: str, version: int, hour: int, **counts: int) -> StatsRow:
    values = {"requests": 0, "errors": 0, "anomalies": 0} | counts
    return StatsRow(
        series, version, hour, "pod-a", latency={}, bins=(0,) * REFERENCE_BINS, **values
    )


def test_fleet_totals_sum_the_window_only(sessions: SessionFactory) -> None:
    stats = SeriesStatsRepository(sessions)
    stats.upsert(
        [
            row("a", 1, 100, requests=10, errors=1, anomalies=2),
            row("b", 1, 101, requests=20, anomalies=1),
            row("b", 2, 101, requests=5, errors=5),
            row("c", 1, 99, requests=1000, anomalies=1000),  # before the window
            row("c", 1, 103, requests=1000, anomalies=1000),  # after it
        ]
    )
    assert stats.fleet_totals(since_hour=100, until_hour=102) == (35, 6, 3)
    assert stats.fleet_totals(since_hour=200, until_hour=210) == (0, 0, 0)


def run(run_id: str, started_at: float) -> DriftRun:
    return DriftRun(run_id, started_at, None, 86_400, 0, 0, 0, 0, "running", "scheduler")


def test_latest_finished_run_and_its_finding_count(sessions: SessionFactory) -> None:
    runs = DriftRepository(sessions)
    assert runs.latest_finished() is None
    runs.start(run("old", 100.0))
    runs.finish(
        run_id="old",
        finished_at=110.0,
        series_checked=3,
        data_drifted=2,
        concept_drifted=0,
        insufficient=0,
        status="succeeded",
    )
    runs.start(run("going", 200.0))  # newer, but not finished: not the latest finished
    findings = [
        DriftFinding(series, 1, "data", 0.4, 0.2, 600, {"psi": 0.4}) for series in ("a", "b")
    ]
    runs.add_findings(run_id="old", findings=findings)
    latest = runs.latest_finished()
    assert latest is not None and (latest.id, latest.status) == ("old", "succeeded")
    assert runs.count_findings("old") == 2
    assert runs.count_findings("going") == 0
