"""The app in process (FastAPI TestClient, SQLite metadata, in-memory registry)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from seriesguard.api.app import create_app
from seriesguard.runtime import build_runtime
from seriesguard.settings import Settings


def client_for(tmp_path: Path, **overrides: object) -> TestClient:
    settings = Settings(
        home=tmp_path,
        mlflow_tracking_uri="memory://",
        min_training_points=100,
        training_min_interval_seconds=0,
        **overrides,  # type: ignore[arg-type]
    )
    return TestClient(create_app(build_runtime(settings)))


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[TestClient]:
    with client_for(tmp_path) as client:
        yield client


def train_and_promote(api: TestClient, series: str) -> None:
    values = np.random.default_rng(2).normal(10, 1, 200).tolist()
    job = api.post(
        f"/api/v1/training/{series}", json={"timestamps": list(range(200)), "values": values}
    )
    assert job.status_code == 202
    for _ in range(200):
        if api.get(job.headers["location"]).json()["status"] == "completed":
            break
    assert api.post(f"/api/v1/models/{series}/versions/1/promote", json={}).status_code == 200


def test_fallback_disabled_answers_404(tmp_path: Path) -> None:
    with client_for(tmp_path, fallback_enabled=False) as api:
        answer = api.post("/api/v1/predict/unknown", json={"timestamp": 0, "value": 1.0})
        assert answer.status_code == 404
        assert answer.json()["error"]["details"][0]["type"] == "model_not_found"


def test_reload_and_deployment_config(api: TestClient) -> None:
    train_and_promote(api, "s1")
    reloaded = api.post("/api/v1/admin/reload/s1").json()
    assert reloaded == {
        "series_id": "s1",
        "broadcast": True,
        "reloaded": True,
        "version": "v1",
        "loaded_from": "catalog",
    }
    config = api.get("/api/v1/models/s1/deployment-config").json()
    assert config["production"]["version"] == "v1" and config["staging"] is None
    assert config["serving"]["in_memory_version"] == "v1"
    assert api.get("/api/v1/readiness").status_code == 200
    assert api.get("/health").json()["models_in_memory"] == 1


def test_second_promotion_archives_the_first(api: TestClient) -> None:
    train_and_promote(api, "s2")
    values = np.random.default_rng(3).normal(50, 1, 200).tolist()
    job = api.post("/api/v1/training/s2", json={"timestamps": list(range(200)), "values": values})
    for _ in range(200):
        if api.get(job.headers["location"]).json()["status"] == "completed":
            break
    promoted = api.post("/api/v1/models/s2/versions/v2/promote", json={"archive_existing": True})
    assert promoted.json() == {
        "version": "v2",
        "stage": "Production",
        "previous_version": "v1",
        "archived": True,
    }
    stages = [(v["version"], v["stage"]) for v in api.get("/api/v1/models/s2").json()["versions"]]
    assert stages == [("v1", "Archived"), ("v2", "Production")]
    answer = api.post("/api/v1/predict/s2", json={"timestamp": 0, "value": 50.0}).json()
    assert answer["model_info"]["version"] == "v2" and answer["anomaly"] is False


def test_database_down_is_503_with_retry_after(tmp_path: Path) -> None:
    """What a PostgreSQL restart looks like to a client: 503 + Retry-After, never a 500."""
    with client_for(tmp_path) as api:
        train_and_promote(api, "s3")
        api.app.state.runtime.engine.dispose()  # type: ignore[attr-defined]
        (tmp_path / "seriesguard.db").unlink()
        (tmp_path / "seriesguard.db").mkdir()  # the file is now unopenable: connect fails
        answer = api.get("/api/v1/training/jobs")
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"
        assert answer.json()["error"]["details"][0]["type"] == "database_unavailable"
        warm = api.post("/api/v1/predict/s3", json={"timestamp": 0, "value": 10.0})
        assert warm.status_code == 200  # predictions go on from memory


def test_queue_backlog_counts_ready_messages_and_jobs_by_state(tmp_path: Path) -> None:
    with client_for(tmp_path, worker_concurrency=0) as api:  # no worker: jobs stay queued
        values = np.random.default_rng(3).normal(10, 1, 200).tolist()
        for series in ("q1", "q2", "q3"):
            answer = api.post(
                f"/api/v1/training/{series}",
                json={"timestamps": list(range(200)), "values": values},
            )
            assert answer.status_code == 202
        backlog = api.get("/api/v1/admin/queue").json()
        assert backlog["ready_messages"] == 3
        assert backlog["jobs"] == {"queued": 3, "processing": 0}
        assert "broker_error" not in backlog


def test_health_reports_no_breakers_for_in_process_backends(api: TestClient) -> None:
    assert api.get("/health").json()["breakers"] == {}
