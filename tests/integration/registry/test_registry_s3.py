"""The MLflow adapter with its artifacts on S3 (moto's server), as in distributed mode: the
tracking store is SQLite, the artifact root ``s3://<bucket>/mlflow``. MLflow finds the server
through ``MLFLOW_S3_ENDPOINT_URL`` and the ``AWS_*`` variables, as it would find MinIO.
"""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import mlflow
import numpy as np
import pandas as pd
import pytest
from tests.conftest import fluent_mlflow_at
from tests.services import TEST_CREDENTIALS, MotoS3, moto_s3_in_env

from seriesguard.core.detectors import ZScoreDetector, detector_from_bytes
from seriesguard.core.series import model_name
from seriesguard.core.stages import Stage
from seriesguard.core.validation import parse_timestamps
from seriesguard.registry.base import RegistryUnavailable, TrainingRecord
from seriesguard.registry.mlflow_registry import MlflowRegistry

pytestmark = pytest.mark.integration

BUCKET = "seriesguard-mlflow"
FAIL_FAST_SECONDS = 30  # a bound on "does not hang", not a performance figure


@pytest.fixture()
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[MotoS3]:
    yield from moto_s3_in_env(monkeypatch, BUCKET)


def make_registry(
    tmp_path: Path, timeout_seconds: float = 5, log_runs: bool = True
) -> tuple[MlflowRegistry, str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    registry = MlflowRegistry(
        tracking_uri=uri,
        artifact_root=f"s3://{BUCKET}/mlflow",
        experiment_name="on-s3",
        http_timeout_seconds=timeout_seconds,
        log_runs=log_runs,
    )
    return registry, uri


def record(series: str) -> TrainingRecord:
    return TrainingRecord(series_id=series, job_id="j1", detector=fitted(1), metrics={}, params={})


def fitted(seed: int) -> ZScoreDetector:
    values = np.random.default_rng(seed).normal(10.0, 2.0, 500)
    return ZScoreDetector.fit(values, np.arange(500.0), {"threshold_sigma": 2.5})


@pytest.mark.parametrize("log_runs", [True, False], ids=["with-runs", "without-runs"])
def test_versions_live_on_s3_and_load_like_any_mlflow_model(
    s3: MotoS3, tmp_path: Path, log_runs: bool
) -> None:
    registry, uri = make_registry(tmp_path, log_runs=log_runs)
    series, detector = f"s3-{uuid.uuid4().hex[:8]}", fitted(4)
    try:
        version = registry.register(
            TrainingRecord(series_id=series, job_id="j1", detector=detector, metrics={}, params={})
        )
        registry.set_stage(series_id=series, version=version.version, stage=Stage.PRODUCTION)
        current = registry.get_by_alias(series_id=series, alias="production")
        assert current is not None and current.version == version.version

        blob = registry.load_model_bytes(series_id=series, version=version.version)
        assert detector_from_bytes(blob).params() == detector.params()

        keys = [
            o["Key"] for o in s3.client().list_objects_v2(Bucket=BUCKET)["Contents"]
        ]  # the model went to S3, not to a local folder
        model_keys = [k for k in keys if k.startswith("mlflow/") and "/model/" in k]
        assert any(k.endswith("/model/MLmodel") for k in model_keys)
        assert any(k.endswith("/model/data/model.json") for k in model_keys)

        with fluent_mlflow_at(uri):
            model = mlflow.pyfunc.load_model(f"models:/{model_name(series)}@production")
        values = np.concatenate([np.linspace(0, 20, 40), [-50.0, 11.0, 1e5]])
        timestamps = [f"2026-01-01T00:00:{i:02d}Z" for i in range(values.size)]
        answer = model.predict(pd.DataFrame({"timestamp": timestamps, "value": values}))
        epoch = parse_timestamps(timestamps)
        np.testing.assert_array_equal(answer["anomaly_score"], detector.score(values, epoch))
        np.testing.assert_array_equal(answer["anomaly"], detector.predict(values, epoch))
        assert answer["anomaly"].any() and not answer["anomaly"].all()
    finally:
        registry.close()


def test_s3_down_is_registry_unavailable(s3: MotoS3, tmp_path: Path) -> None:
    registry, _ = make_registry(tmp_path)
    series = f"s3-{uuid.uuid4().hex[:8]}"
    try:
        registry.prepare()  # the experiment lives in SQLite: works without S3
        s3.stop()
        started = time.monotonic()
        with pytest.raises(RegistryUnavailable):
            registry.register(record(series))
        assert time.monotonic() - started < FAIL_FAST_SECONDS
        assert registry.list_versions(series_id=series) == []  # no version without a model
    finally:
        registry.close()


def test_s3_that_never_answers_is_registry_unavailable_in_seconds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MLflow's own S3 client would wait 3 x 60 s; the registry bounds it (mlflow_defaults)."""
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # this registry sets a fresh default
    with socket.socket() as silent:  # accepts connections (backlog), never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        for name, value in TEST_CREDENTIALS.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        registry, _ = make_registry(tmp_path, timeout_seconds=1)
        try:
            started = time.monotonic()
            with pytest.raises(RegistryUnavailable, match="Timeout"):
                registry.register(record(f"s3-{uuid.uuid4().hex[:8]}"))
            assert time.monotonic() - started < FAIL_FAST_SECONDS
        finally:
            registry.close()
