"""One contract for every ModelRegistry, plus what only the MLflow adapter promises.

The MLflow store is shared by the module (creating an MLflow SQLite database takes seconds);
every test works on its own series ids, so tests stay independent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from tests.conftest import fluent_mlflow_at

from seriesguard.core.detectors import ZScoreDetector, detector_from_bytes
from seriesguard.core.errors import InvalidInput, NotFound
from seriesguard.core.monitoring import ReferenceSummary
from seriesguard.core.series import model_name
from seriesguard.core.stages import Stage
from seriesguard.core.validation import parse_timestamps
from seriesguard.registry.base import ModelRegistry, RegistryUnavailable, TrainingRecord
from seriesguard.registry.factory import create_registry
from seriesguard.registry.memory import MemoryRegistry
from seriesguard.registry.mlflow_registry import MlflowRegistry

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    root = tmp_path_factory.mktemp("mlflow")
    return f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri()


@pytest.fixture(scope="module")
def shared_mlflow(mlflow_store: tuple[str, str]) -> Iterator[MlflowRegistry]:
    uri, artifacts = mlflow_store
    registry = MlflowRegistry(tracking_uri=uri, artifact_root=artifacts, experiment_name="contract")
    yield registry
    registry.close()


@pytest.fixture(scope="module")
def mlflow_without_runs(mlflow_store: tuple[str, str]) -> Iterator[MlflowRegistry]:
    uri, artifacts = mlflow_store
    registry = MlflowRegistry(
        tracking_uri=uri, artifact_root=artifacts, experiment_name="no-runs", log_runs=False
    )
    yield registry
    registry.close()


@pytest.fixture(params=["memory", "mlflow", "mlflow-without-runs"])
def registry(request: pytest.FixtureRequest) -> ModelRegistry:
    if request.param == "memory":
        return MemoryRegistry()
    name = "shared_mlflow" if request.param == "mlflow" else "mlflow_without_runs"
    shared: MlflowRegistry = request.getfixturevalue(name)
    return shared


@pytest.fixture()
def series() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


def fitted(seed: int = 0, sigma: float = 3.0) -> ZScoreDetector:
    rng = np.random.default_rng(seed)
    values = rng.normal(10.0 + seed, 2.0, 500)
    return ZScoreDetector.fit(values, np.arange(500.0), {"threshold_sigma": sigma})


def record(
    series_id: str, job_id: str, seed: int = 0, data_path: str | None = None
) -> TrainingRecord:
    return TrainingRecord(
        series_id=series_id,
        job_id=job_id,
        detector=fitted(seed),
        metrics={"n_points": 500.0, "anomaly_rate": 0.01},
        params={"algorithm": "statistical", "threshold_sigma": "3.0"},
        tags={"window_start": "2026-01-01T00:00:00Z"},
        data_path=data_path,
        reference=REFERENCE,
    )


REFERENCE = ReferenceSummary(
    edges=(8.0, 10.0, 12.0), counts=(80, 170, 170, 80), n_points=500, anomaly_rate=0.004
)


# -- the contract ---------------------------------------------------------------------------


def test_register_lands_in_staging_with_alias(registry: ModelRegistry, series: str) -> None:
    version = registry.register(record(series, "job-1"))
    assert version.version == 1
    assert version.stage is Stage.STAGING
    assert version.series_id == series
    assert version.job_id == "job-1"
    assert version.algorithm == "statistical"
    assert version.params == fitted(0).params()
    assert version.metrics == {"n_points": 500.0, "anomaly_rate": 0.01}
    assert version.created_at > 1.6e9
    assert version.reference == REFERENCE  # the drift reference travels with the version
    assert registry.get_by_alias(series_id=series, alias="staging") == version
    assert registry.get_by_alias(series_id=series, alias="production") is None


def test_register_is_idempotent_per_job(registry: ModelRegistry, series: str) -> None:
    first = registry.register(record(series, "job-1"))
    again = registry.register(record(series, "job-1", seed=5))
    assert again == first
    assert [v.version for v in registry.list_versions(series_id=series)] == [1]
    assert registry.find_by_job(series_id=series, job_id="job-1") == first


def test_several_versions_in_staging_at_once(registry: ModelRegistry, series: str) -> None:
    for index in range(3):
        registry.register(record(series, f"job-{index}", seed=index))
    versions = registry.list_versions(series_id=series)
    assert [v.version for v in versions] == [1, 2, 3]  # oldest first
    assert {v.stage for v in versions} == {Stage.STAGING}
    newest = registry.get_by_alias(series_id=series, alias="staging")
    assert newest is not None and newest.version == 3


def test_stages_keep_aliases_consistent(registry: ModelRegistry, series: str) -> None:
    registry.register(record(series, "job-1"))
    registry.register(record(series, "job-2", seed=2))

    registry.set_stage(series_id=series, version=1, stage=Stage.PRODUCTION)
    assert aliases(registry, series) == {"production": 1, "staging": 2}
    assert stages(registry, series) == {1: Stage.PRODUCTION, 2: Stage.STAGING}

    registry.set_stage(series_id=series, version=2, stage=Stage.PRODUCTION)
    registry.set_stage(series_id=series, version=1, stage=Stage.ARCHIVED)
    assert aliases(registry, series) == {"production": 2, "staging": None}
    assert stages(registry, series) == {1: Stage.ARCHIVED, 2: Stage.PRODUCTION}

    registry.set_stage(series_id=series, version=2, stage=Stage.ARCHIVED)
    assert aliases(registry, series) == {"production": None, "staging": None}

    registry.set_stage(series_id=series, version=1, stage=Stage.STAGING)
    assert aliases(registry, series) == {"production": None, "staging": 1}
    version = registry.get_version(series_id=series, version=1)
    assert version is not None and version.stage is Stage.STAGING


def aliases(registry: ModelRegistry, series: str) -> dict[str, int | None]:
    found = {a: registry.get_by_alias(series_id=series, alias=a) for a in ("production", "staging")}
    return {alias: None if v is None else v.version for alias, v in found.items()}


def stages(registry: ModelRegistry, series: str) -> dict[int, Stage]:
    return {v.version: v.stage for v in registry.list_versions(series_id=series)}


def test_reads_of_unknown_things(registry: ModelRegistry, series: str) -> None:
    assert registry.get_version(series_id=series, version=1) is None
    assert registry.list_versions(series_id=series) == []
    assert registry.get_by_alias(series_id=series, alias="production") is None
    assert registry.find_by_job(series_id=series, job_id="nope") is None
    registry.register(record(series, "job-1"))
    assert registry.get_version(series_id=series, version=2) is None
    assert registry.find_by_job(series_id=series, job_id="other-job") is None
    found = registry.get_version(series_id=series, version=1)
    assert found is not None and found.job_id == "job-1"


def test_model_bytes_round_trip(registry: ModelRegistry, series: str) -> None:
    detector = fitted(7, sigma=2.5)
    version = registry.register(
        TrainingRecord(series_id=series, job_id="j", detector=detector, metrics={}, params={})
    )
    blob = registry.load_model_bytes(series_id=series, version=version.version)
    loaded = detector_from_bytes(blob)
    assert loaded.params() == detector.params()
    values = np.linspace(-20, 40, 61)
    np.testing.assert_array_equal(loaded.score(values, values), detector.score(values, values))


def test_delete_version(registry: ModelRegistry, series: str) -> None:
    registry.register(record(series, "job-1"))
    registry.register(record(series, "job-2", seed=2))
    registry.set_stage(series_id=series, version=1, stage=Stage.PRODUCTION)
    registry.delete_version(series_id=series, version=2)
    assert registry.get_version(series_id=series, version=2) is None
    assert [v.version for v in registry.list_versions(series_id=series)] == [1]
    assert registry.find_by_job(series_id=series, job_id="job-2") is None
    assert aliases(registry, series) == {"production": 1, "staging": None}
    registry.delete_version(series_id=series, version=1)
    assert registry.list_versions(series_id=series) == []
    assert registry.get_by_alias(series_id=series, alias="production") is None


def test_canary_and_shadow_aliases(registry: ModelRegistry, series: str) -> None:
    registry.register(record(series, "job-1"))
    registry.register(record(series, "job-2", seed=2))
    registry.set_stage(series_id=series, version=1, stage=Stage.PRODUCTION)
    registry.set_alias(series_id=series, alias="canary", version=2)
    registry.set_alias(series_id=series, alias="canary", version=2)  # idempotent
    registry.set_alias(series_id=series, alias="shadow", version=1)
    registry.set_alias(series_id=series, alias="shadow", version=2)  # moves
    canary = registry.get_by_alias(series_id=series, alias="canary")
    shadow = registry.get_by_alias(series_id=series, alias="shadow")
    assert canary is not None and canary.version == 2
    assert canary.stage is Stage.STAGING  # the stage tag stays; the alias says canary
    assert shadow is not None and shadow.version == 2
    assert aliases(registry, series) == {"production": 1, "staging": 2}
    registry.set_alias(series_id=series, alias="canary", version=None)
    registry.set_alias(series_id=series, alias="canary", version=None)  # already gone
    assert registry.get_by_alias(series_id=series, alias="canary") is None
    assert registry.get_by_alias(series_id=series, alias="shadow") is not None


def test_alias_of_unknown_things(registry: ModelRegistry, series: str) -> None:
    registry.set_alias(series_id=series, alias="canary", version=None)  # no model: no error
    with pytest.raises(NotFound):
        registry.set_alias(series_id=series, alias="canary", version=1)
    registry.register(record(series, "job-1"))
    with pytest.raises(NotFound):
        registry.set_alias(series_id=series, alias="shadow", version=7)
    with pytest.raises(InvalidInput):  # stage aliases follow the stage tags
        registry.set_alias(series_id=series, alias="production", version=1)
    assert registry.get_by_alias(series_id=series, alias="shadow") is None
    assert registry.get_by_alias(series_id=series, alias="production") is None


# -- MLflow only ----------------------------------------------------------------------------


def test_mlflow_user_loads_the_production_model(
    shared_mlflow: MlflowRegistry, mlflow_store: tuple[str, str], series: str
) -> None:
    detector = fitted(3)
    version = shared_mlflow.register(
        TrainingRecord(series_id=series, job_id="j", detector=detector, metrics={}, params={})
    )
    shared_mlflow.set_stage(series_id=series, version=version.version, stage=Stage.PRODUCTION)
    uri = mlflow_store[0]
    with fluent_mlflow_at(uri):
        model = mlflow.pyfunc.load_model(f"models:/{model_name(series)}@production")
    values = np.concatenate([np.linspace(0, 30, 50), [-100.0, 13.0, 1e6]])
    timestamps = [f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z" for i in range(values.size)]
    answer = model.predict(pd.DataFrame({"timestamp": timestamps, "value": values}))
    assert list(answer.columns) == ["anomaly", "anomaly_score", "normalized_score"]
    assert answer["anomaly"].dtype == bool and answer["anomaly_score"].dtype == np.float64
    epoch = parse_timestamps(timestamps)
    np.testing.assert_array_equal(answer["anomaly_score"], detector.score(values, epoch))
    np.testing.assert_array_equal(answer["anomaly"], detector.predict(values, epoch))
    raw = answer["anomaly_score"].to_numpy()
    np.testing.assert_array_equal(answer["normalized_score"], raw / (raw + detector.threshold))
    assert answer["anomaly"].any() and not answer["anomaly"].all()

    mv = MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version_by_alias(
        model_name(series), "production"
    )
    assert int(mv.version) == version.version
    assert mv.tags["stage"] == "production"
    assert mv.tags["job_id"] == "j" and mv.tags["run_id"] == version.run_id


def test_run_carries_params_metrics_tags_and_data(
    shared_mlflow: MlflowRegistry, mlflow_store: tuple[str, str], series: str, tmp_path: Path
) -> None:
    data = tmp_path / "train.csv"
    data.write_text("timestamp,value\n1,2.0\n")
    version = shared_mlflow.register(record(series, "job-data", data_path=str(data)))
    client = MlflowClient(tracking_uri=mlflow_store[0], registry_uri=mlflow_store[0])
    run = client.get_run(str(version.run_id))
    assert run.info.status == "FINISHED"
    assert run.data.params == {"algorithm": "statistical", "threshold_sigma": "3.0"}
    assert run.data.metrics == {"n_points": 500.0, "anomaly_rate": 0.01}
    assert run.data.tags["job_id"] == "job-data"
    assert run.data.tags["window_start"] == "2026-01-01T00:00:00Z"
    assert [a.path for a in client.list_artifacts(run.info.run_id, "data")] == ["data/train.csv"]


def test_register_repairs_a_missing_staging_alias(
    shared_mlflow: MlflowRegistry, mlflow_store: tuple[str, str], series: str
) -> None:
    version = shared_mlflow.register(record(series, "job-1"))
    client = MlflowClient(tracking_uri=mlflow_store[0], registry_uri=mlflow_store[0])
    client.delete_registered_model_alias(model_name(series), "staging")  # a crash lost it
    assert shared_mlflow.register(record(series, "job-1")) == version
    assert aliases(shared_mlflow, series)["staging"] == version.version


def test_missing_versions_raise_not_found(shared_mlflow: MlflowRegistry, series: str) -> None:
    with pytest.raises(NotFound):
        shared_mlflow.load_model_bytes(series_id=series, version=1)
    with pytest.raises(NotFound):
        shared_mlflow.set_stage(series_id=series, version=1, stage=Stage.PRODUCTION)
    shared_mlflow.delete_version(series_id=series, version=1)  # deleting nothing is fine


def test_concurrent_registers_on_sqlite(shared_mlflow: MlflowRegistry) -> None:
    prefix = uuid.uuid4().hex[:8]
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for index in range(3):
                job = f"job-{worker}-{index}"
                shared_mlflow.register(record(f"{prefix}-{index % 2}", job, seed=index))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counts = [len(shared_mlflow.list_versions(series_id=f"{prefix}-{s}")) for s in (0, 1)]
    assert counts == [8, 4]
    numbers = [v.version for v in shared_mlflow.list_versions(series_id=f"{prefix}-0")]
    assert numbers == list(range(1, 9))


def test_construction_is_lazy_and_outages_are_registry_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.setenv(variable, "placeholder")  # so that teardown restores the original
        monkeypatch.delenv(variable)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    (tmp_path / "db-is-a-folder").mkdir()
    uris = [
        "http://127.0.0.1:9",
        f"sqlite:///{blocker / 'sub' / 'mlflow.db'}",
        f"sqlite:///{tmp_path / 'db-is-a-folder'}",
    ]
    for uri in uris:
        down = MlflowRegistry(
            tracking_uri=uri, artifact_root=str(tmp_path / "art"), experiment_name="x"
        )
        assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
        calls = [
            lambda r=down: r.register(record("s1", "j1")),
            lambda r=down: r.get_version(series_id="s1", version=1),
            lambda r=down: r.list_versions(series_id="s1"),
            lambda r=down: r.get_by_alias(series_id="s1", alias="production"),
            lambda r=down: r.find_by_job(series_id="s1", job_id="j1"),
            lambda r=down: r.set_stage(series_id="s1", version=1, stage=Stage.PRODUCTION),
            lambda r=down: r.load_model_bytes(series_id="s1", version=1),
            lambda r=down: r.delete_version(series_id="s1", version=1),
        ]
        for call in calls:
            with pytest.raises(RegistryUnavailable) as caught:
                call()
            assert "MLflow registry at" in str(caught.value)
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "5"


def test_unreachable_artifact_store_is_registry_unavailable(
    mlflow_store: tuple[str, str], tmp_path: Path, series: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    broken = MlflowRegistry(
        tracking_uri=mlflow_store[0],
        artifact_root=(blocker / "artifacts").as_uri(),
        experiment_name=f"broken-artifacts-{series}",
    )
    with pytest.raises(RegistryUnavailable):
        broken.register(record(series, "job-1"))
    assert broken.list_versions(series_id=series) == []


def test_factory_picks_by_uri_and_does_not_import_mlflow(tmp_path: Path) -> None:
    assert isinstance(
        create_registry(tracking_uri="memory://", artifact_root="", experiment_name="x"),
        MemoryRegistry,
    )
    db = tmp_path / "never-created" / "mlflow.db"
    made = create_registry(tracking_uri=f"sqlite:///{db}", artifact_root="", experiment_name="x")
    assert isinstance(made, MlflowRegistry)
    assert not db.parent.exists()  # nothing touched before first use
    probe = (
        "import sys, seriesguard.registry.factory as f; "
        "f.create_registry(tracking_uri='memory://', artifact_root='', experiment_name='x'); "
        "assert 'mlflow' not in sys.modules, 'mlflow imported'"
    )
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_version_without_run_is_a_plain_mlflow_model(
    mlflow_without_runs: MlflowRegistry, mlflow_store: tuple[str, str], series: str
) -> None:
    uri, _ = mlflow_store
    version = mlflow_without_runs.register(record(series, "j1"))
    assert version.run_id is None
    assert version.params["threshold_sigma"] == 3.0
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mv = client.get_model_version(model_name(series), str(version.version))
    assert not mv.run_id
    assert "/models/" in mv.source and mv.source.endswith("/model")
    with fluent_mlflow_at(uri):
        model = mlflow.pyfunc.load_model(f"models:/{model_name(series)}@staging")
    frame = pd.DataFrame({"timestamp": [0.0, 1.0], "value": [10.0, 1000.0]})
    assert model.predict(frame)["anomaly"].tolist() == [False, True]


def test_a_series_id_with_a_colon_registers_and_reads_back(registry: ModelRegistry) -> None:
    series = f"sensor-{uuid.uuid4().hex[:6]}:x"  # the pattern allows ':', MLflow names do not
    version = registry.register(record(series, "job-colon"))
    assert version.series_id == series
    registry.set_stage(series_id=series, version=version.version, stage=Stage.PRODUCTION)
    production = registry.get_by_alias(series_id=series, alias="production")
    assert production is not None and production.series_id == series
    assert [v.version for v in registry.list_versions(series_id=series)] == [version.version]
    assert registry.load_model_bytes(series_id=series, version=version.version)
