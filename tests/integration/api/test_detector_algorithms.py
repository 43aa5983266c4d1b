"""The robust and seasonal detectors and threshold calibration through the API in process:
trained by the worker, registered, promoted, served by the predictor."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.integration.api.detector_rig import (
    DAY,
    START,
    daily_cycle,
    predict,
    train_and_promote,
)


def test_seasonal_model_flags_a_night_spike_the_noon_level_would_hide(
    registry_api: TestClient,
) -> None:
    params = train_and_promote(registry_api, "cycle", {"algorithm": "seasonal"})
    assert len(params["centres"]) == 24 and params["period"] == "auto"
    trough = START + 5 * DAY + 18 * 3600  # sin = -1 at 18:00: the level is about 10
    assert predict(registry_api, "cycle", trough, 10.2)["anomaly"] is False
    assert (
        predict(registry_api, "cycle", trough, 20.0)["anomaly"] is True
    )  # the daily mean, at night


def test_calibrated_robust_model_keeps_its_rate_in_the_params(registry_api: TestClient) -> None:
    config = {"algorithm": "robust", "hyperparameters": {"target_false_alarm_rate": 0.01}}
    params = train_and_promote(registry_api, "calibrated", config)
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
def test_bad_hyperparameters_are_422(
    registry_api: TestClient, config: dict[str, Any], name: str
) -> None:
    ts, values = daily_cycle(1)
    answer = registry_api.post(
        "/api/v1/training/bad", json={"timestamps": ts, "values": values, "config": config}
    )
    assert answer.status_code == 422, answer.text
    detail = answer.json()["error"]["details"][0]
    assert detail["type"] == "hyperparameter_range"
    assert detail["loc"][-1] == name
