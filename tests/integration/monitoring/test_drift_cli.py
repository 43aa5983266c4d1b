"""``seriesguard drift check --all`` on a real metadata DB: the run, its findings, and the
refusals of a command line that names no target."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seriesguard.cli import app
from seriesguard.core.catalog import ModelVersion
from seriesguard.core.monitoring import ReferenceSummary, StatsRow, hour_of
from seriesguard.core.stages import Stage
from seriesguard.settings import Settings
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade
from seriesguard.store.stats import SeriesStatsRepository

runner = CliRunner()
REFERENCE = ReferenceSummary(
    edges=(-1.0, 0.0, 1.0), counts=(2500, 2500, 2500, 2500), n_points=10_000, anomaly_rate=0.01
)


def fleet(home: Path) -> None:
    engine = create_db_engine(Settings(home=home).resolved_database_url())
    upgrade(engine)
    sessions = session_factory(engine)
    catalog = CatalogRepository(sessions)
    versions = [
        ModelVersion(
            series_id=name,
            version=1,
            stage=Stage.PRODUCTION,
            algorithm="statistical",
            params={"mean": 0.0, "std": 1.0},
            reference=REFERENCE,
        )
        for name in ("calm", "moved")
    ]
    catalog.add_new_series(versions, stats=[None, None])
    hour = hour_of(time.time())
    flat, piled = (250, 250, 250, 250), (0, 0, 100, 900)
    rows = [
        StatsRow(name, 1, hour, "pod", 1000, 0, 10, {10: 1000}, (*bins, *[0] * 6))
        for name, bins in (("calm", flat), ("moved", piled))
    ]
    SeriesStatsRepository(sessions).upsert(rows)
    engine.dispose()


def test_the_fleet_check_stores_a_run_and_names_the_drifted_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    fleet(tmp_path)
    result = runner.invoke(app, ["drift", "check", "--all", "--home", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    run = report["run"]
    assert (run["status"], run["series_checked"], run["data_drifted"]) == ("succeeded", 2, 1)
    assert run["window_hours"] == 24 and run["triggered_by"] == "cli"
    (finding,) = report["findings"]
    assert (finding["series_id"], finding["kind"]) == ("moved", "data")
    assert finding["statistic"] > finding["threshold"] == 0.2
    assert finding["sample_size"] == 1000

    table = runner.invoke(app, ["drift", "check", "--all", "--home", str(tmp_path)])
    assert table.exit_code == 0, table.output
    assert "checked 2 series" in table.output


@pytest.mark.parametrize(
    ("arguments", "rule"),
    [
        (["drift", "check"], "drift_target"),
        (["drift", "check", "s1", "--all"], "drift_target"),
        (["drift", "check", "--all", "--window", "5x"], "window_format"),
    ],
)
def test_a_command_line_without_one_target_is_refused(arguments: list[str], rule: str) -> None:
    result = runner.invoke(app, arguments)
    assert result.exit_code != 0
    assert rule in result.output


def test_an_unreadable_stored_reference_is_skipped_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    fleet(tmp_path)
    engine = create_db_engine(Settings(home=tmp_path).resolved_database_url())
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE model_versions SET reference = '7' WHERE series_id = 'calm'"
        )
    engine.dispose()
    result = runner.invoke(app, ["drift", "check", "--all", "--home", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    run = json.loads(result.output)["run"]
    assert (run["series_checked"], run["data_drifted"]) == (2, 1)  # "moved" still judged
