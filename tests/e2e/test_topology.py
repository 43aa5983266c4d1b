"""The distributed topology over real connections: 1 api + 2 predictors + 2 workers + a
scheduler, with PostgreSQL, RabbitMQ, an MLflow tracking server on PostgreSQL + S3 (moto)."""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Iterator
from datetime import datetime

import numpy as np
import pytest

from tests.e2e.harness import Server, submit_training, wait_job
from tests.e2e.topology import Topology, frozen

pytestmark = pytest.mark.e2e
LOW, HIGH, PROMOTE = 150, 50, 50
POINTS = 10_000
VISIBILITY_BOUND_S = 5.0


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    world = Topology(root=tmp_path_factory.mktemp("topology")).start_backends()
    try:
        world.start("api", "api")
        for name in ("predictor-1", "predictor-2"):
            world.start(name, "predictor")
        for name in ("worker-1", "worker-2"):
            # The kill test freezes MLflow: jobs must hang there, not time out after
            # seriesguard's default 5 s and go back to the queue to wait for MLflow.
            world.start(name, "worker", "--concurrency", "1", MLFLOW_HTTP_REQUEST_TIMEOUT="60")
        world.start("scheduler", "scheduler")
        yield world
    finally:
        world.stop()


def started(job: dict[str, object]) -> float:
    return datetime.fromisoformat(str(job["started_at"])).timestamp()


def test_backlog_priorities_promotion_and_coherent_predictors(topology: Topology) -> None:
    rng = np.random.default_rng(21)
    timestamps = (1_700_000_000 + 60 * np.arange(POINTS)).tolist()
    api = topology.servers["api"]
    with api.client() as http:
        ids: dict[str, tuple[int, str]] = {}
        for index in range(LOW + HIGH):
            priority = 1 if index < LOW else 10
            series = f"topo-{index:03d}"
            body = json.dumps(
                {
                    "timestamps": timestamps,
                    "values": rng.normal(index, 1.0, POINTS).tolist(),
                    "config": {"priority": priority},
                }
            )
            answer = http.post(
                f"/api/v1/training/{series}",
                content=body,
                headers={"content-type": "application/json"},
            )
            assert answer.status_code == 202, answer.text
            ids[series] = (priority, answer.json()["job_id"])
        jobs = {s: wait_job(http, job_id, timeout=600) for s, (_, job_id) in ids.items()}
        failed = {s: j["error"] for s, j in jobs.items() if j["status"] != "completed"}
        assert not failed, failed

        low = sorted(started(jobs[s]) for s, (p, _) in ids.items() if p == 1)
        high = [started(jobs[s]) for s, (p, _) in ids.items() if p == 10]
        # Submitted after the whole backlog, yet they start ahead of its tail.
        assert statistics.median(high) < low[-HIGH], (statistics.median(high), low[-HIGH:])

        promoted_at: dict[str, float] = {}
        watchers = [
            _Watcher(topology.servers[n], promoted_at) for n in ("predictor-1", "predictor-2")
        ]
        for watcher in watchers:
            watcher.start()
        for series in sorted(ids)[:PROMOTE]:
            answer = http.post(f"/api/v1/models/{series}/versions/v1/promote", json={})
            assert answer.status_code == 200, answer.text
            promoted_at[series] = time.monotonic()
    for watcher in watchers:
        watcher.join(90)
    delays = [seen - promoted_at[s] for w in watchers for s, seen in w.seen.items()]
    assert len(delays) == 2 * PROMOTE, [len(w.seen) for w in watchers]
    assert max(delays) <= VISIBILITY_BOUND_S, sorted(delays)[-5:]


class _Watcher(threading.Thread):
    """Asks one predictor about every promoted series until it answers with v1, noting when
    (a promotion must reach every predictor within the bound, without a restart)."""

    def __init__(self, server: Server, promoted_at: dict[str, float]) -> None:
        super().__init__(daemon=True)
        self._server = server
        self._promoted_at = promoted_at
        self.seen: dict[str, float] = {}

    def run(self) -> None:
        deadline = time.monotonic() + 90
        with self._server.client() as http:
            while len(self.seen) < PROMOTE and time.monotonic() < deadline:
                for series in [s for s in list(self._promoted_at) if s not in self.seen]:
                    answer = http.post(
                        f"/api/v1/predict/{series}", json={"timestamp": 0, "value": 0.0}
                    ).json()
                    if answer["model_info"]["version"] == "v1":
                        self.seen[series] = time.monotonic()
                time.sleep(0.05)


def test_cancel_queued_never_trains_and_processing_leaves_no_version(topology: Topology) -> None:
    with topology.servers["api"].client() as http:
        backlog = [submit_training(http, f"cancel-backlog-{i}", seed=i) for i in range(8)]
        last = submit_training(http, "cancel-queued", seed=99)
        assert http.delete(f"/api/v1/training/jobs/{last}").json()["status"] == "cancelled"
        for job_id in backlog:
            wait_job(http, job_id, timeout=300)
        queued = http.get(f"/api/v1/training/jobs/{last}").json()
        assert queued["status"] == "cancelled" and queued["started_at"] is None
        assert http.get("/api/v1/models/cancel-queued").status_code == 404

        for attempt in range(10):  # catch a job while it is processing
            job_id = submit_training(
                http, f"cancel-running-{attempt}", seed=attempt, points=100_000
            )
            while (
                status := http.get(f"/api/v1/training/jobs/{job_id}").json()["status"]
            ) == "queued":
                time.sleep(0.005)
            if status == "processing":
                cancelled = http.delete(f"/api/v1/training/jobs/{job_id}")
                if cancelled.status_code == 200:
                    break
        else:
            pytest.fail("never caught a job while it was processing")
        final = wait_job(http, job_id, timeout=120)
        time.sleep(2)  # a late finish would register now; cancel must win
        assert http.get(f"/api/v1/training/jobs/{job_id}").json()["status"] == "cancelled"
        versions = http.get(f"/api/v1/models/cancel-running-{attempt}")
        staging = (
            []
            if versions.status_code == 404
            else [v for v in versions.json()["versions"] if v["stage"] == "Staging"]
        )
        assert final["status"] == "cancelled" and staging == []


def test_mlflow_down_predictions_go_on_and_jobs_wait(topology: Topology) -> None:
    assert topology.mlflow is not None
    topology.mlflow.stop()
    try:
        with topology.servers["predictor-2"].client() as http:
            answer = http.post("/api/v1/predict/topo-000", json={"timestamp": 0, "value": 0.0})
            assert answer.json()["model_info"]["loaded_from"] in ("memory", "cache")
        with topology.servers["api"].client() as http:
            job_id = submit_training(http, "during-outage", seed=7)
            time.sleep(4)
            job = http.get(f"/api/v1/training/jobs/{job_id}").json()
            assert job["status"] in ("queued", "processing"), job
    finally:
        topology.mlflow.start()
    with topology.servers["api"].client() as http:
        assert wait_job(http, job_id, timeout=180)["status"] == "completed"


def test_killed_worker_job_completes_once(topology: Topology) -> None:
    """SIGKILL a worker mid-job: RabbitMQ takes the message back, the reconciler hands the job
    back once its lease runs out (its heartbeats died with the process), the other worker
    trains it, and MLflow holds one version, not two."""
    assert topology.mlflow is not None
    with topology.servers["api"].client() as http:
        # Jobs take well under a second: with MLflow frozen, each worker hangs
        # mid-registration with its job, so the kill surely finds one in hand.
        with frozen(topology.mlflow):
            ids = {f"kill-{i}": submit_training(http, f"kill-{i}", seed=i) for i in range(4)}
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                page = http.get("/api/v1/training/jobs", params={"status": "processing"}).json()
                if page["total"] == 2:  # both workers (concurrency 1 each) are mid-job
                    break
                time.sleep(0.05)
            else:
                pytest.fail("the workers never both held a job")
            topology.servers["worker-1"].kill()
        finished = {s: wait_job(http, j, timeout=300) for s, j in ids.items()}
    assert {j["status"] for j in finished.values()} == {"completed"}, finished
    retried = {j["job_id"] for j in finished.values() if j["attempts"] >= 2}
    assert len(retried) == 1, finished  # the killed worker's job, and only it
    scheduler_log = topology.servers["scheduler"].log_path.read_text()
    assert all(f"job {job_id} exceeded its lease" in scheduler_log for job_id in retried)
    from mlflow import MlflowClient

    uri = topology.mlflow.url  # registry too: an earlier test may have set a global one
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for series, job in finished.items():
        versions = client.search_model_versions(f"name='anomaly-detector-{series}'")
        assert [v.tags.get("job_id") for v in versions] == [job["job_id"]], series
