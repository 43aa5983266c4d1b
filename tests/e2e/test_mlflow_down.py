"""MLflow unavailable: warm series keep answering from memory; an unknown series gets the
seed's z-score fallback with low confidence; new training waits in the queue."""

from __future__ import annotations

import numpy as np
import pytest

from tests.e2e.harness import free_port, wait_job

pytestmark = pytest.mark.e2e


def test_predictions_go_on_without_mlflow(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    rng = np.random.default_rng(11)
    timestamps = (1_600_000_000 + 60 * np.arange(10_000)).tolist()
    server = make_server(home)
    with server.client() as http:
        job = http.post(
            "/api/v1/training/warm",
            json={"timestamps": timestamps, "values": rng.normal(50, 5, 10_000).tolist()},
        ).json()
        assert wait_job(http, job["job_id"])["status"] == "completed"
        promoted = http.post("/api/v1/models/warm/versions/1/promote", json={})
        assert promoted.status_code == 200, (promoted.text, server.log_tail())
    server.stop()

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    down = make_server(home, MLFLOW_TRACKING_URI=dead)
    with down.client() as http:
        warm = http.post(
            "/api/v1/predict/warm", json={"timestamp": 1_700_000_000, "value": 90.0}
        ).json()
        assert warm["model_info"]["loaded_from"] in ("memory", "cache")
        assert warm["model_info"]["version"] == "v1" and warm["anomaly"] is True

        unknown = http.post(
            "/api/v1/predict/never-trained", json={"timestamp": 1_700_000_000, "value": 0.5}
        )
        assert unknown.status_code == 200, unknown.text
        body = unknown.json()
        assert body["confidence"] == "low"
        assert body["model_info"]["type"] == "fallback_zscore"

        pending = http.post(
            "/api/v1/training/later",
            json={"timestamps": timestamps, "values": rng.normal(0, 1, 10_000).tolist()},
        )
        assert pending.status_code == 202
        status = http.get(f"/api/v1/training/jobs/{pending.json()['job_id']}").json()["status"]
        assert status in ("queued", "processing")
        assert http.get("/api/v1/models/warm").status_code == 200  # read from the catalog
