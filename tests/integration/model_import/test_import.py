"""Bulk import end to end: MLflow on SQLite (bulk path) and the memory registry (API path).

What an imported model must be: an MLflow version any MLflow user can read and load, a
catalog entry the predictor serves, and a series that trains and promotes as usual after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import sqlalchemy as sa
from mlflow.tracking import MlflowClient
from tests.conftest import fluent_mlflow_at

from seriesguard.core.detectors import ZScoreDetector
from seriesguard.core.errors import InvalidInput
from seriesguard.core.stages import Stage
from seriesguard.model_import.runner import run_import
from seriesguard.registry.base import TrainingRecord
from seriesguard.registry.mlflow_bulk import BulkWriteUnsupported, MlflowBulkWriter
from seriesguard.runtime import Role, Runtime, build_runtime
from seriesguard.settings import Settings
from seriesguard.store.db import upgrade

pytestmark = pytest.mark.integration


class Recorder:
    def __init__(self) -> None:
        self.phases: list[tuple[str, int | None]] = []
        self.done = 0

    def phase(self, description: str, total: int | None) -> None:
        self.phases.append((description, total))

    def advance(self, done: int) -> None:
        self.done += done


def write_models(path: Path, models: dict[str, tuple[float, float]]) -> Path:
    with path.open("w") as out:
        for series, (mean, std) in models.items():
            params = {"mean": mean, "std": std, "threshold_sigma": 3.0}
            out.write(json.dumps({"series_id": series, "params": params}) + "\n")
    return path


def do_import(settings: Settings, path: Path, *, stage: str = "production") -> Recorder:
    recorder = Recorder()
    run_import(
        settings=settings,
        path=path,
        stage_name=stage,
        default_algorithm="statistical",
        chunk_size=3,  # several chunks: the pipelined path
        progress=recorder,
    )
    return recorder


@pytest.fixture(autouse=True)
def own_mlflow(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read MLFLOW_TRACKING_URI, which MLflow's fluent API exports: every test
    here must use its own home's registry."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture()
def runtime(home: Path) -> Iterator[Runtime]:
    rt = build_runtime(Settings(home=home), roles=frozenset({Role.PREDICTOR}))
    yield rt
    rt.registry.close()
    rt.engine.dispose()


FLEET = {f"sensor-{i:03d}.x": (10.0 * i, 1.0 + i / 10) for i in range(8)}


def test_bulk_import_makes_versions_mlflow_reads_and_loads(home: Path, tmp_path: Path) -> None:
    settings = Settings(home=home)
    recorder = do_import(settings, write_models(tmp_path / "m.jsonl", FLEET))
    assert recorder.done == len(FLEET)
    rt = build_runtime(settings, roles=frozenset({Role.PREDICTOR}))
    try:
        entry = rt.catalog.serving_entry("sensor-007.x")
        assert entry is not None and entry.params["mean"] == 70.0
    finally:
        rt.engine.dispose()
    assert recorder.phases[-1] == ("importing into Production", len(FLEET))

    uri = settings.resolved_tracking_uri()
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("anomaly-detector-sensor-003.x", "production")
    assert int(version.version) == 1 and version.status == "READY"
    assert version.tags["stage"] == "production" and version.tags["algorithm"] == "statistical"
    assert json.loads(version.tags["params"]) == {"mean": 30.0, "std": 1.3, "threshold_sigma": 3.0}
    with fluent_mlflow_at(uri):
        model = mlflow.pyfunc.load_model("models:/anomaly-detector-sensor-003.x@production")
    answer = model.predict(pd.DataFrame({"timestamp": [0.0, 1.0], "value": [30.0, 40.0]}))
    assert answer["anomaly"].tolist() == [False, True]


def test_imported_models_are_served_and_train_on_as_usual(
    home: Path, tmp_path: Path, runtime: Runtime
) -> None:
    do_import(Settings(home=home), write_models(tmp_path / "m.jsonl", FLEET))
    assert runtime.predictor.warm_load() == len(FLEET)
    scorer = runtime.predictor.scorer("sensor-005.x")
    assert scorer.info.stage == "production" and scorer.info.version == "v1"
    assert scorer.score_one(50.0 + 3.1 * 1.5, 0.0)[0] is True

    # The registry's own path continues the series: version 2, promotion archives version 1.
    record = TrainingRecord(
        series_id="sensor-005.x",
        job_id="job-after-import",
        detector=ZScoreDetector(mean=1.0, std=2.0),
        metrics={},
        params={},
    )
    v2 = runtime.registry.register(record)
    assert v2.version == 2
    runtime.catalog.record_version(v2, stats=None)
    runtime.models.promote(
        series_id="sensor-005.x", version=2, strategy="direct", archive_existing=True
    )
    stages = {v.version: v.stage for v in runtime.registry.list_versions(series_id="sensor-005.x")}
    assert stages == {1: Stage.ARCHIVED, 2: Stage.PRODUCTION}
    assert runtime.registry.load_model_bytes(series_id="sensor-005.x", version=1)


def test_importing_again_changes_nothing_and_new_models_replace_production(
    home: Path, tmp_path: Path, runtime: Runtime
) -> None:
    settings = Settings(home=home)
    do_import(settings, write_models(tmp_path / "m.jsonl", FLEET))
    do_import(settings, write_models(tmp_path / "m.jsonl", FLEET))
    assert [v.version for v in runtime.registry.list_versions(series_id="sensor-001.x")] == [1]

    changed = {"sensor-001.x": (99.0, 9.0), "sensor-100.x": (1.0, 1.0)}  # one old, one new
    do_import(settings, write_models(tmp_path / "m2.jsonl", changed))
    versions = runtime.registry.list_versions(series_id="sensor-001.x")
    assert [(v.version, v.stage) for v in versions] == [
        (1, Stage.ARCHIVED),
        (2, Stage.PRODUCTION),
    ]
    entry = runtime.catalog.serving_entry("sensor-001.x")
    assert entry is not None and entry.version == 2 and entry.params["mean"] == 99.0
    assert runtime.catalog.serving_entry("sensor-100.x") is not None


def test_staging_import_leaves_production_alone(
    home: Path, tmp_path: Path, runtime: Runtime
) -> None:
    do_import(Settings(home=home), write_models(tmp_path / "m.jsonl", FLEET), stage="staging")
    summary = runtime.catalog.get_series("sensor-002.x")
    assert summary is not None
    assert summary.staging_version == 1 and summary.production_version is None
    assert runtime.predictor.warm_load() == len(FLEET)  # seen, and nothing to serve
    assert len(runtime.predictor.table) == 0


def test_memory_registry_imports_through_the_api_path(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home", mlflow_tracking_uri="memory://")
    recorder = do_import(settings, write_models(tmp_path / "m.jsonl", FLEET))
    assert recorder.done == len(FLEET)
    rt = build_runtime(settings, roles=frozenset({Role.PREDICTOR}))
    try:
        entry = rt.catalog.serving_entry("sensor-007.x")
        assert entry is not None and entry.params["mean"] == 70.0
    finally:
        rt.engine.dispose()


def test_a_bad_line_stops_the_import_before_anything_is_written(
    home: Path, tmp_path: Path, runtime: Runtime
) -> None:
    path = write_models(tmp_path / "m.jsonl", FLEET)
    with path.open("a") as out:
        out.write(json.dumps({"series_id": "bad one", "params": {"mean": 1, "std": 1}}) + "\n")
    with pytest.raises(InvalidInput) as caught:
        do_import(Settings(home=home), path)
    assert caught.value.rule == "series_id_pattern"
    assert caught.value.loc == ("line", len(FLEET) + 1, "series_id")
    upgrade(runtime.engine)
    assert runtime.catalog.list_series(limit=10)[1] == 0


def test_bulk_writer_refuses_a_schema_it_does_not_know(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'other.db'}"
    engine = sa.create_engine(uri)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE registered_models (name TEXT PRIMARY KEY)")
    engine.dispose()
    with pytest.raises(BulkWriteUnsupported, match=r"lacks MLflow's tables|has no column"):
        MlflowBulkWriter(tracking_uri=uri, experiment_root=str(tmp_path / "art"))
