"""The robust and seasonal detectors and threshold calibration through the API in process:
trained by the worker, registered, promoted, served by the predictor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from seriesguard.api.app import create_app
from seriesguard.runtime import build_runtime
from seriesguard.settings import Settings

DAY = 86_400
START = 1_700_006_400  # 2023-11-15 00:00 UTC


# The real MLflow too: a seasonal model's params (a list of 168 x 2 numbers) travel as a model
# version tag and its pyfunc artifact, both read back by the predictor.
@pytest.fixture(params=["memory", "mlflow"])
def api(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    uri = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/mlflow.db"
    settings = Settings(
        home=tmp_path,
        mlflow_tracking_uri=uri,
        min_training_points=100,
        training_min_interval_seconds=0,
    )
    with TestClient(create_app(build_runtime(settings))) as client:
        yield client


def daily_cycle(days: int) -> tuple[list[int], list[float]]:
    ts = np.arange(START, START + days * DAY, 300)
    values = 20.0 + 10.0 * np.sin(2 * np.pi * (ts - START) / DAY)
    values += np.random.default_rng(5).normal(0.0, 0.5, ts.size)
    return ts.tolist(), values.tolist()


def train_and_promote(api: TestClient, series: str, config: dict[str, Any]) -> dict[str, Any]:
    ts, values = daily_cycle(4)
    job = api.post(
        f"/api/v1/training/{series}",
        json={"timestamps": ts, "values": values, "config": config},
    )
    assert job.status_code == 202, job.text
    status: dict[str, Any] = {}
    for _ in range(400):
        status = api.get(job.headers["location"]).json()
        if status["status"] in ("completed", "failed"):
            break
    assert status["status"] == "completed", status
    promoted = api.post(f"/api/v1/models/{series}/versions/1/promote", json={})
    assert promoted.status_code == 200, promoted.text
    versions = api.get(f"/api/v1/models/{series}").json()["versions"]
    params: dict[str, Any] = versions[0]["params"]
    return params


def predict(api: TestClient, series: str, timestamp: int, value: float) -> dict[str, Any]:
    answer = api.post(f"/api/v1/predict/{series}", json={"timestamp": timestamp, "value": value})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def test_seasonal_model_flags_a_night_spike_the_noon_level_would_hide(api: TestClient) -> None:
    params = train_and_promote(api, "cycle", {"algorithm": "seasonal"})
    assert len(params["centres"]) == 24 and params["period"] == "auto"
    trough = START + 5 * DAY + 18 * 3600  # sin = -1 at 18:00: the level is about 10
    assert predict(api, "cycle", trough, 10.2)["anomaly"] is False
    assert predict(api, "cycle", trough, 20.0)["anomaly"] is True  # the daily mean, at night


def test_calibrated_robust_model_keeps_its_rate_in_the_params(api: TestClient) -> None:
    config = {"algorithm": "robust", "hyperparameters": {"target_false_alarm_rate": 0.01}}
    params = train_and_promote(api, "calibrated", config)
    assert params["target_false_alarm_rate"] == 0.01
    assert params["threshold_sigma"] != 3.5  # the calibrated threshold, not the default


@pytest.mark.parametrize(
    ("config", "name"),
    [
        ({"algorithm": "seasonal", "hyperparameters": {"period": "hourly"}}, "period"),
        (
            {"algorithm": "robust", "hyperparameters": {"target_false_alarm_rate": 0.7}},
            "target_false_alarm_rate",
        ),
    ],
)
def test_bad_hyperparameters_are_422(api: TestClient, config: dict[str, Any], name: str) -> None:
    ts, values = daily_cycle(1)
    answer = api.post(
        "/api/v1/training/bad", json={"timestamps": ts, "values": values, "config": config}
    )
    assert answer.status_code == 422, answer.text
    detail = answer.json()["error"]["details"][0]
    assert detail["type"] == "hyperparameter_range"
    assert detail["loc"][-1] == name
