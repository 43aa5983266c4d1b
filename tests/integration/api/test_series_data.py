"""The history store through the API: bulk points in, training on a window, predicted points
kept, and the body rules of both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.integration.api.auth_fixtures import Keys, auth_settings

from seriesguard.api.app import create_app
from seriesguard.runtime import build_runtime
from seriesguard.settings import Settings

DATA = "/api/v1/series/{}/data"


@pytest.fixture()
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    settings = Settings(
        home=tmp_path,
        mlflow_tracking_uri="memory://",
        min_training_points=100,
        training_min_interval_seconds=0,
        worker_concurrency=0,  # jobs stay queued: the API is under test
        history_retention_days=2,
        history_flush_seconds=3600,  # flushed by the test
    )
    with TestClient(create_app(build_runtime(settings))) as client:
        yield client


def minutes(n: int, *, end: float | None = None) -> list[float]:
    """n timestamps one minute apart, the last a little before ``end`` (now)."""
    last = (end or time.time()) - 30.0
    return [last - 60.0 * (n - 1 - i) for i in range(n)]


def send(api: TestClient, ts: list[Any], values: list[Any], series: str = "s1") -> Any:
    return api.post(DATA.format(series), json={"timestamps": ts, "values": values})


def test_points_are_stored_once_and_the_answer_says_so(api: TestClient) -> None:
    ts = minutes(150)
    values = np.random.default_rng(1).normal(3, 1, 150).tolist()
    first = send(api, ts, values)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["series_id"], body["accepted"], body["duplicates"]) == ("s1", 150, 0)
    assert body["first"].endswith("+00:00") and body["retained_until"] > body["first"]
    again = send(api, [*ts[-10:], ts[-1] + 1], [*values[-10:], 1.0]).json()
    assert (again["accepted"], again["duplicates"]) == (1, 10)
    history = api.app.state.runtime.history.store  # type: ignore[attr-defined]
    assert history.count("s1") == 151


@pytest.mark.parametrize(
    ("body", "rule", "loc"),
    [
        ({"timestamps": [1.0, 2.0], "values": [1.0]}, "length_mismatch", ["body", "timestamps"]),
        (
            {"timestamps": [time.time() - 3 * 86_400], "values": [1.0]},
            "beyond_retention",
            ["body", "timestamps", 0],
        ),
        (
            {"timestamps": [time.time(), time.time() - 5], "values": [1.0, 2.0]},
            "strictly_increasing",
            ["body", "timestamps", 1],
        ),
    ],
)
def test_bad_points_are_422_with_rule_and_place(
    api: TestClient, body: dict[str, Any], rule: str, loc: list[Any]
) -> None:
    answer = api.post(DATA.format("s1"), json=body)
    assert answer.status_code == 422
    detail = answer.json()["error"]["details"][0]
    assert (detail["type"], detail["loc"]) == (rule, loc)
    assert api.post(DATA.format("bad$id"), json={"timestamps": [], "values": []}).status_code == 422


def test_training_on_a_window_of_stored_history(api: TestClient) -> None:
    ts = minutes(180)
    send(api, ts, np.random.default_rng(2).normal(3, 1, 180).tolist())
    answer = api.post("/api/v1/training/s1", json={"config": {"window_hours": 2}})
    assert answer.status_code == 202, answer.text
    assert answer.json()["training_points"] == 120
    assert answer.headers["location"].startswith("/api/v1/training/jobs/")


@pytest.mark.parametrize(
    ("body", "status", "rule"),
    [
        ({"config": {}}, 422, "points_or_window"),
        (
            {"timestamps": [1], "values": [1], "config": {"window_hours": 2}},
            422,
            "points_or_window",
        ),
        ({"config": {"window_hours": 49}}, 422, "window_hours_range"),  # retention: 48 h
        ({"config": {"window_hours": 0}}, 422, "greater_than_equal"),
        ({"config": {"window_hours": 24}}, 422, "insufficient_history"),
    ],
)
def test_window_hours_rules(api: TestClient, body: dict[str, Any], status: int, rule: str) -> None:
    send(api, minutes(30), [float(i % 5) for i in range(30)])
    answer = api.post("/api/v1/training/s1", json=body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["details"][0]["type"] == rule


def test_predicted_points_reach_the_history_store(api: TestClient) -> None:
    now = time.time()
    single = api.post("/api/v1/predict/s9", json={"timestamp": now - 2, "value": 4.0})
    assert single.status_code == 200, single.text
    batch = api.post(
        "/api/v1/predict/batch",
        json={"series": [{"series_id": "s9", "timestamps": [now - 1, now], "values": [5, 6]}]},
    )
    assert batch.status_code == 200, batch.text
    runtime = api.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.history.flusher.flush() is True
    window = runtime.history.store.window(series_id="s9", start=now - 10, end=now + 1)
    assert window.values.tolist() == [4.0, 5.0, 6.0]


def test_sending_points_needs_the_train_permission(tmp_path: Path, keys: Keys) -> None:
    with TestClient(create_app(build_runtime(auth_settings(tmp_path, keys)))) as client:
        body = {"timestamps": [time.time() - 1], "values": [1.0]}
        url = DATA.format("s1")
        reader = {"Authorization": f"Bearer {keys.token('rita', 'viewer')}"}
        scientist = {"Authorization": f"Bearer {keys.token('dana', 'data_scientist')}"}
        assert client.post(url, json=body).status_code == 401
        assert client.post(url, json=body, headers=reader).status_code == 403
        assert client.post(url, json=body, headers=scientist).status_code == 200
