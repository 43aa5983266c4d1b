"""An isolation forest through the API on the real MLflow backend (SQLite): trained by the worker,
registered with params too long for a tag, promoted, served by the predictor and loaded by an
MLflow user as a pyfunc that scores as the detector does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from tests.conftest import fluent_mlflow_at
from tests.integration.api.detector_rig import (
    DAY,
    START,
    detector_api,
    predict,
    train_and_promote,
)

from seriesguard.core.detectors import detector_from_params
from seriesguard.registry.mlflow_writes import PARAMS_IN_MODEL, PARAMS_TAG_LIMIT

STEP = 300
CONFIG = {"algorithm": "isolation_forest", "hyperparameters": {"n_trees": 150}}


@pytest.fixture
def mlflow_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, str]]:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    with detector_api(tmp_path, monkeypatch, uri=uri) as client:
        yield client, uri


def _expected(ts: np.ndarray) -> np.ndarray:
    """The training window's cycle (test_detector_algorithms.daily_cycle) without its noise."""
    return 20.0 + 10.0 * np.sin(2 * np.pi * (ts - START) / DAY)


def test_forest_trains_registers_serves_and_loads_as_pyfunc(
    mlflow_api: tuple[TestClient, str],
) -> None:
    api, uri = mlflow_api
    params = train_and_promote(api, "forest", CONFIG)  # read back through the registry
    assert params["n_trees"] == len(params["roots"]) == 150
    tags = (
        MlflowClient(tracking_uri=uri, registry_uri=uri)
        .get_model_version("anomaly-detector-forest", "1")
        .tags
    )
    assert tags["params"] == PARAMS_IN_MODEL  # too long for a tag: kept in the model only
    detector = detector_from_params("isolation_forest", params)
    assert len(detector.to_bytes()) > PARAMS_TAG_LIMIT

    after = START + 4 * DAY + STEP  # the point after the training window
    calm = predict(api, "forest", after, float(_expected(np.array([after]))[0]))
    assert calm["anomaly"] is False
    spike = predict(api, "forest", after + STEP, 60.0)
    assert spike["anomaly"] is True and spike["anomaly_score"] > spike["threshold"]

    with fluent_mlflow_at(uri):
        model = mlflow.pyfunc.load_model("models:/anomaly-detector-forest@production")
    ts = after + STEP * np.arange(200, dtype=np.float64)
    values = _expected(ts) + np.random.default_rng(9).normal(0.0, 0.5, ts.size)
    values[[50, 120]] = [60.0, -15.0]
    answer = model.predict(pd.DataFrame({"timestamp": ts, "value": values}))
    np.testing.assert_array_equal(answer["anomaly_score"], detector.score(values, ts))
    np.testing.assert_array_equal(answer["anomaly"], detector.predict(values, ts))
    assert answer["anomaly"].iloc[50] and answer["anomaly"].iloc[120]
    assert answer["anomaly"].mean() < 0.1
