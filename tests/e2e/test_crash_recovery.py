"""SIGKILL the server with jobs queued and processing; after a restart every job completes
exactly once (one version per job in MLflow, none lost, none doubled)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.e2e.harness import wait_job

pytestmark = pytest.mark.e2e
JOBS = 12


def test_jobs_survive_sigkill_and_complete_exactly_once(make_server, tmp_path) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    server = make_server(home, SERIESGUARD_WORKER_CONCURRENCY="1")
    rng = np.random.default_rng(3)
    timestamps = (1_600_000_000 + 60 * np.arange(100_000)).tolist()
    ids: list[str] = []
    seen: set[str] = set()
    with server.client() as http:
        for index in range(JOBS):
            answer = http.post(
                f"/api/v1/training/crash-{index}",
                json={"timestamps": timestamps, "values": rng.normal(0, 1, 100_000).tolist()},
            )
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["job_id"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            statuses = [http.get(f"/api/v1/training/jobs/{i}").json()["status"] for i in ids]
            seen.update(statuses)
            if "processing" in statuses and "queued" in statuses:
                break
            time.sleep(0.01)
    assert {"processing", "queued"} <= seen, f"never saw both queued and processing: {seen}"
    server.kill()

    restarted = make_server(home, SERIESGUARD_WORKER_CONCURRENCY="2")
    with restarted.client() as http:
        finished = [wait_job(http, job_id, timeout=180) for job_id in ids]
    assert {job["status"] for job in finished} == {"completed"}
    restarted.stop()

    from mlflow import MlflowClient

    uri = f"sqlite:///{home.resolve() / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for index, job in enumerate(finished):
        versions = client.search_model_versions(f"name='anomaly-detector-crash-{index}'")
        assert [v.tags.get("job_id") for v in versions] == [job["job_id"]], versions
