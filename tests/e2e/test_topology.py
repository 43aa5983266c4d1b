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

from tests.e2e.harness import Server, wait_job
from tests.e2e.topology import Topology

pytestmark = pytest.mark.e2e
LOW, HIGH, PROMOTE = 60, 20, 30
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
            world.start(name, "worker", "--concurrency", "1")
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
