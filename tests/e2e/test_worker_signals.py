"""Signals in the distributed topology: a worker SIGTERMed mid-job, and two scheduler
processes against one PostgreSQL (one leader; the other takes over when it is SIGTERMed).

A SIGKILLed worker's job is taken over after its lease: ``test_topology.py``
(``test_killed_worker_job_completes_once``)."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Server, submit_training, wait_job
from tests.e2e.topology import Topology, frozen

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
LEASE_SECONDS = 6
RECONCILE = "ran scheduled task reconcile_jobs"
TOOK_LEADERSHIP = "scheduler took leadership"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    world = Topology(root=tmp_path_factory.mktemp("signals")).start_backends()
    # A short lease with several beats in it: a dead worker's job returns within seconds.
    world.env.update(
        SERIESGUARD_PROCESSING_LEASE_SECONDS=str(LEASE_SECONDS), SERIESGUARD_HEARTBEAT_SECONDS="1"
    )
    try:
        world.start("api", "api")
        for name in ("worker-1", "worker-2"):
            # MLflow is frozen for longer than seriesguard's default 5 s call timeout here:
            # the jobs must hang mid-registration, not go back to wait for MLflow.
            world.start(name, "worker", "--concurrency", "1", MLFLOW_HTTP_REQUEST_TIMEOUT="120")
        for name in ("scheduler-a", "scheduler-b"):  # debug: each periodic run is logged
            world.start(name, "scheduler", SERIESGUARD_LOG_LEVEL="DEBUG")
        yield world
    finally:
        world.stop()


def test_worker_sigterm_mid_job_leaves_each_job_completed_once(world: Topology) -> None:
    """Both workers hold a job past the lease (MLflow frozen mid-registration): heartbeats
    keep both jobs theirs. SIGTERM one: it finishes its job once MLflow answers, and exits
    cleanly; every job completes once, with one model version."""
    assert world.mlflow is not None
    worker = world.servers["worker-1"]
    with world.servers["api"].client() as http:
        with frozen(world.mlflow):
            ids = {f"term-{i}": submit_training(http, f"term-{i}", seed=i) for i in range(4)}
            _wait_for(lambda: _processing(http) == 2, what="both workers to hold a job")
            time.sleep(2 * LEASE_SECONDS)  # the jobs outlive their lease, renewed by heartbeats
            assert _processing(http) == 2
            stopping = threading.Thread(target=worker.stop)  # SIGTERM; SIGKILL after 30 s
            stopping.start()
            _wait_for(lambda: _count(worker, "Shutting down") == 1, what="worker-1 to stop")
        stopping.join(60)
        assert _exited_cleanly(worker), worker.log_tail()
        finished = {s: wait_job(http, j, timeout=300) for s, j in ids.items()}
    assert {j["status"] for j in finished.values()} == {"completed"}, finished
    assert {j["attempts"] for j in finished.values()} == {1}, finished  # none handed back
    for name in ("scheduler-a", "scheduler-b"):
        assert _count(world.servers[name], "exceeded its lease", exact=False) == 0
    _assert_one_version_per_job(world, finished)


def test_two_schedulers_one_leader_and_takeover_on_sigterm(world: Topology) -> None:
    schedulers = [world.servers["scheduler-a"], world.servers["scheduler-b"]]
    _wait_for(
        lambda: any(_count(s, RECONCILE) >= 3 for s in schedulers),
        what="the leader to reconcile a few times",
    )
    leader, follower = sorted(schedulers, key=lambda s: _count(s, RECONCILE), reverse=True)
    assert _count(leader, TOOK_LEADERSHIP) == 1, leader.log_tail()
    # The follower has run no periodic action at all: none is doubled.
    assert _count(follower, TOOK_LEADERSHIP) == 0, follower.log_tail()
    assert _count(follower, RECONCILE) == 0, follower.log_tail()

    leader.stop()  # SIGTERM: the leader releases its lock on the way out
    assert _exited_cleanly(leader), leader.log_tail()
    _wait_for(lambda: _count(follower, RECONCILE) >= 1, what="the follower to take over")
    assert _count(follower, TOOK_LEADERSHIP) == 1, follower.log_tail()


def _exited_cleanly(server: Server) -> bool:
    """Stopped by its own graceful shutdown, not SIGKILLed after the grace period (uvicorn
    re-raises the SIGTERM it handled once shut down, hence -SIGTERM)."""
    assert server.process is not None
    return server.process.returncode in (0, -signal.SIGTERM)


def _processing(http: httpx.Client) -> int:
    page = http.get("/api/v1/training/jobs", params={"status": "processing"}).json()
    return int(page["total"])


def _assert_one_version_per_job(world: Topology, finished: dict[str, dict[str, object]]) -> None:
    from mlflow import MlflowClient

    assert world.mlflow is not None
    uri = world.mlflow.url  # registry too: an earlier test may have set a global one
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for series, job in finished.items():
        versions = client.search_model_versions(f"name='anomaly-detector-{series}'")
        assert [v.tags.get("job_id") for v in versions] == [job["job_id"]], series


def _count(server: Server, message: str, *, exact: bool = True) -> int:
    """Lines of the server's JSON log whose message is (or, not ``exact``, has) ``message``."""
    return sum(
        1
        for entry in _log_entries(server.log_path)
        if (entry.get("msg") == message if exact else message in str(entry.get("msg")))
    )


def _log_entries(path: Path) -> Iterator[dict[str, object]]:
    if not path.exists():
        return
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a concurrent write


def _wait_for(
    condition: Callable[[], bool], *, what: str, timeout: float = 120.0, poll: float = 0.2
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    pytest.fail(f"timed out waiting for {what}")
