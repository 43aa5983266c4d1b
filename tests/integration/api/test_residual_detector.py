"""The residual detector through the API in process, on the in-memory registry and the real
MLflow one: trained by the worker, registered, promoted, then served by the predictor, which
keeps the series' forecast state across requests."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from tests.integration.api.detector_rig import (
    DAY,
    START,
    train_and_promote,
)

STEP = 300


def _cycle(start: int, n: int, seed: int) -> tuple[list[int], list[float]]:
    ts = np.arange(start, start + n * STEP, STEP)
    values = 20.0 + 5.0 * np.sin(2 * np.pi * (ts - START) / DAY)
    values += np.random.default_rng(seed).normal(0.0, 0.3, ts.size)
    return ts.tolist(), values.tolist()


def _train(registry_api: TestClient, series: str) -> dict[str, Any]:
    points = _cycle(START, 3 * 288, seed=1)
    return train_and_promote(registry_api, series, {"algorithm": "residual"}, points=points)


def test_the_predictor_keeps_the_forecast_state_between_requests(registry_api: TestClient) -> None:
    params = _train(registry_api, "pump-7")
    assert (
        len(params["seasonal"]) == 24 and params["last_timestamp"] == START + (3 * 288 - 1) * STEP
    )
    ts, values = _cycle(START + 3 * 288 * STEP, 120, seed=2)
    answers = []
    for i, (t, v) in enumerate(zip(ts, values, strict=True)):
        shifted = v + (6.0 if i >= 60 else 0.0)  # the level steps up and stays
        answer = registry_api.post(
            "/api/v1/predict/pump-7", json={"timestamp": t, "value": shifted}
        )
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
    flagged = [i for i, a in enumerate(answers) if a["anomaly"]]
    assert flagged == [60]  # the onset, once: the state followed the new level
    assert all(a["model_info"]["version"] == "v1" for a in answers)
    assert answers[60]["anomaly_score"] > answers[60]["threshold"] == params["threshold"]
