"""RabbitMQ and PostgreSQL restarted under a stream of submissions (the seed's runbook).

The contract: a client sees 202, or 503 with ``Retry-After`` (and retries), never another 5xx;
every accepted job completes, with exactly one model version. The services are this machine's
own (the ones ``.ci/run`` starts): RabbitMQ is restarted with ``rabbitmqctl stop_app`` /
``start_app`` (connections drop, durable queues and persistent messages survive, as in a pod
restart); PostgreSQL with ``pg_ctlcluster stop -m fast`` / ``start``. Both are brought back in
``finally`` whatever happens, so a failure here cannot take the rest of the suite down.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.e2e.harness import Server, wait_job
from tests.e2e.topology import Topology

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("rabbitmqctl") or not shutil.which("pg_ctlcluster"),
        reason="restarting the machine's RabbitMQ and PostgreSQL needs root and their tools",
    ),
]
POINTS = 10_000
DOWN_SECONDS = 5
FAST_RECOVERY = {
    # the reconciler republishes what a broker outage left unpublished after this long
    "SERIESGUARD_QUEUED_REPUBLISH_AFTER_SECONDS": "5",
}


def _run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=120)


@contextmanager
def rabbitmq_down() -> Iterator[None]:
    _run("rabbitmqctl", "stop_app")
    try:
        yield
    finally:
        _run("rabbitmqctl", "start_app")
        _run("rabbitmqctl", "await_startup", "--timeout", "60")


@contextmanager
def postgresql_down() -> Iterator[None]:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    cluster = ("pg_ctlcluster", "--skip-systemctl-redirect", version, "main")
    _run(*cluster, "stop", "-m", "fast")
    try:
        yield
    finally:
        _run(*cluster, "start")
        _run("pg_isready", "-h", "127.0.0.1", "-t", "60")


class Submitter(threading.Thread):
    """Submits one job per series like a well-behaved client: on 503 it waits Retry-After
    and sends the same request again; anything else but 202 is recorded as unexpected."""

    def __init__(self, api: Server, *, prefix: str, count: int, interval: float) -> None:
        super().__init__(daemon=True)
        self.api, self.prefix, self.count, self.interval = api, prefix, count, interval
        self.accepted: dict[str, str] = {}  # series -> job id
        self.retried = 0
        self.unexpected: list[tuple[str, int, str]] = []
        rng = np.random.default_rng(5)
        self.timestamps = (1_700_000_000 + 60 * np.arange(POINTS)).tolist()
        self.values = [rng.normal(i, 1.0, POINTS).tolist() for i in range(count)]

    def run(self) -> None:
        with httpx.Client(base_url=self.api.url, timeout=30) as http:
            for index in range(self.count):
                series = f"{self.prefix}-{index:03d}"
                body = json.dumps({"timestamps": self.timestamps, "values": self.values[index]})
                self._submit(http, series, body)
                time.sleep(self.interval)

    def _submit(self, http: httpx.Client, series: str, body: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            answer = http.post(
                f"/api/v1/training/{series}",
                content=body,
                headers={"content-type": "application/json"},
            )
            if answer.status_code == 202:
                self.accepted[series] = answer.json()["job_id"]
                return
            if answer.status_code == 503 and "retry-after" in answer.headers:
                self.retried += 1
                time.sleep(min(float(answer.headers["retry-after"]), 2.0))
                continue
            self.unexpected.append((series, answer.status_code, answer.text[:300]))
            return
        self.unexpected.append((series, 0, "still refused after 120 s"))


class Poller(threading.Thread):
    """Reads job states while the fault happens: 200, or 503 with Retry-After, nothing else."""

    def __init__(self, api: Server, submitter: Submitter) -> None:
        super().__init__(daemon=True)
        self.api, self.submitter = api, submitter
        self.stop = threading.Event()
        self.answers = 0
        self.refused = 0  # 503 + Retry-After
        self.unexpected: list[tuple[int, str]] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.api.url, timeout=30) as http:
            while not self.stop.is_set():
                for job_id in list(self.submitter.accepted.values())[-5:]:
                    answer = http.get(f"/api/v1/training/jobs/{job_id}")
                    self.answers += 1
                    if answer.status_code == 503 and "retry-after" in answer.headers:
                        self.refused += 1
                    elif answer.status_code != 200:
                        self.unexpected.append((answer.status_code, answer.text[:300]))
                time.sleep(0.2)


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[Topology]:
    topology = Topology(root=tmp_path).start_backends()
    try:
        topology.start("api", "api", **FAST_RECOVERY)
        topology.start("worker-1", "worker", "--concurrency", "2", **FAST_RECOVERY)
        topology.start("scheduler", "scheduler", **FAST_RECOVERY)
        yield topology
    finally:
        topology.stop()


def _fault_during_stream(
    world: Topology, *, prefix: str, fault: Callable[[], Any], count: int = 40
) -> tuple[Submitter, Poller]:
    api = world.servers["api"]
    submitter = Submitter(api, prefix=prefix, count=count, interval=0.15)
    poller = Poller(api, submitter)
    submitter.start()
    poller.start()
    _wait_for(lambda: len(submitter.accepted) >= count // 4, "a quarter of the stream")
    with fault():
        time.sleep(DOWN_SECONDS)
    submitter.join(timeout=300)
    poller.stop.set()
    poller.join(timeout=30)
    return submitter, poller


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _assert_all_complete_once(world: Topology, submitter: Submitter, count: int) -> None:
    assert not submitter.unexpected, submitter.unexpected
    assert len(submitter.accepted) == count
    api = world.servers["api"]
    with api.client() as http:
        for series, job_id in submitter.accepted.items():
            job = wait_job(http, job_id, timeout=300)
            assert job["status"] == "completed", (series, job, api.log_tail())
            versions = http.get(f"/api/v1/models/{series}").json()["versions"]
            assert [v["job_id"] for v in versions] == [job_id], (series, versions)


def test_rabbitmq_restart_during_a_stream_of_submissions(world: Topology) -> None:
    submitter, poller = _fault_during_stream(world, prefix="rmq", fault=rabbitmq_down)
    assert not poller.unexpected, poller.unexpected
    assert poller.answers > 0 and poller.refused == 0
    # Accepting a job needs the database, not the broker: nothing was refused, the jobs whose
    # publish failed were published by the reconciler once the broker was back.
    assert submitter.retried == 0
    _assert_all_complete_once(world, submitter, 40)


def test_postgresql_restart_during_a_stream_of_submissions(world: Topology) -> None:
    submitter, poller = _fault_during_stream(world, prefix="pg", fault=postgresql_down)
    assert not poller.unexpected, poller.unexpected
    # While the database was down the API refused with 503 + Retry-After (the client retried).
    assert submitter.retried + poller.refused > 0
    _assert_all_complete_once(world, submitter, 40)
