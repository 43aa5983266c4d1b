"""SIGKILL the server with jobs queued and processing; after a restart every job completes
exactly once (one version per job in MLflow, none lost, none doubled)."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from tests.e2e.harness import wait_job

pytestmark = pytest.mark.e2e
JOBS = 20
POINTS = 100_000


def test_jobs_survive_sigkill_and_complete_exactly_once(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    server = make_server(home, SERIESGUARD_WORKER_CONCURRENCY="1")
    rng = np.random.default_rng(3)
    timestamps = (1_600_000_000 + 60 * np.arange(POINTS)).tolist()
    # Encoded up front so the jobs arrive faster than one worker can train them.
    bodies = [
        json.dumps({"timestamps": timestamps, "values": rng.normal(0, 1, POINTS).tolist()})
        for _ in range(JOBS)
    ]
    snapshot: dict[str, str] = {}
    with server.client() as http:
        ids = []
        for index, body in enumerate(bodies):
            answer = http.post(
                f"/api/v1/training/crash-{index}",
                content=body,
                headers={"content-type": "application/json"},
            )
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["job_id"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            page = http.get("/api/v1/training/jobs", params={"limit": JOBS}).json()
            snapshot = {job["job_id"]: job["status"] for job in page["items"]}
            if {"processing", "queued"} <= set(snapshot.values()):
                break
    server.kill()
    assert {"processing", "queued"} <= set(snapshot.values()), snapshot

    restarted = make_server(home, SERIESGUARD_WORKER_CONCURRENCY="2")
    with restarted.client() as http:
        finished = [wait_job(http, job_id, timeout=180) for job_id in ids]
    broken = [
        (j["job_id"], j["status"], j["error"]) for j in finished if j["status"] != "completed"
    ]
    assert not broken, (broken, restarted.log_tail())
    restarted.stop()

    from mlflow import MlflowClient

    uri = f"sqlite:///{home.resolve() / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for index, job in enumerate(finished):
        versions = client.search_model_versions(f"name='anomaly-detector-crash-{index}'")
        assert [v.tags.get("job_id") for v in versions] == [job["job_id"]], versions
