"""What the detector-through-the-API tests share: an in-process app on the in-memory or the real
MLflow registry (SQLite), and training a version then promoting it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


@contextmanager
def detector_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, uri: str
) -> Iterator[TestClient]:
    """The whole app in process on the registry at ``uri`` (``memory://`` or an MLflow URI)."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    settings = Settings(
        home=tmp_path,
        mlflow_tracking_uri=uri,
        min_training_points=100,
        training_min_interval_seconds=0,
    )
    with TestClient(create_app(build_runtime(settings))) as client:
        yield client


def backend_uri(backend: str, tmp_path: Path) -> str:
    return "memory://" if backend == "memory" else f"sqlite:///{tmp_path}/mlflow.db"


def daily_cycle(days: int) -> tuple[list[int], list[float]]:
    ts = np.arange(START, START + days * DAY, 300)
    values = 20.0 + 10.0 * np.sin(2 * np.pi * (ts - START) / DAY)
    values += np.random.default_rng(5).normal(0.0, 0.5, ts.size)
    return ts.tolist(), values.tolist()


def train_and_promote(
    api: TestClient,
    series: str,
    config: dict[str, Any],
    *,
    points: tuple[Sequence[int], Sequence[float]] | None = None,
) -> dict[str, Any]:
    """Train version 1 on ``points`` (default four days of daily_cycle), promote it; its
    params as the registry reads them back."""
    ts, values = points or daily_cycle(4)
    job = api.post(
        f"/api/v1/training/{series}",
        json={"timestamps": list(ts), "values": list(values), "config": config},
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
