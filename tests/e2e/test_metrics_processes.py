"""`seriesguard predictor --workers 2`: ``/metrics`` in either process reports the requests of
both, and still does after one of them is killed."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.catalog import catalog_with
from tests.e2e.harness import Server
from tests.e2e.test_predictor_workers import children_of

pytestmark = pytest.mark.e2e

ROUTE = ("/api/v1/liveness", "GET", "200")


def counted_by_scrape(url: str) -> float:
    """The liveness requests ``/metrics`` reports, on a fresh connection (either process)."""
    with httpx.Client(base_url=url, timeout=10) as http:
        answer = http.get("/metrics")
    assert answer.status_code == 200, answer.text
    return sum(
        s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
        if s.name == "http_requests_total"
        and (s.labels["route"], s.labels["method"], s.labels["status"]) == ROUTE
    )


def counted_by_process(folder: Path) -> dict[int, float]:
    """``{pid: liveness requests}`` from each process's snapshot file."""
    found = {}
    for path in folder.glob("*.json"):
        payload = json.loads(path.read_text())
        found[payload["pid"]] = sum(
            value
            for labels, value in payload["values"].get("http_requests_total", [])
            if tuple(labels) == ROUTE
        )
    return found


def live_requests(url: str, count: int) -> None:
    for _ in range(count):  # fresh connections, so that both processes take some
        with httpx.Client(base_url=url, timeout=10) as http:
            assert http.get("/api/v1/liveness").status_code == 200


def wait_for(condition: Callable[[], bool], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_metrics_add_up_across_workers_and_outlive_a_killed_one(tmp_path: Path) -> None:
    folder = tmp_path / "metrics"
    catalog_with(tmp_path, ["m-1"])
    server = Server(
        home=tmp_path,
        command=("predictor", "--workers", "2"),
        name="metrics",
        env={"SERIESGUARD_METRICS_DIR": str(folder)},
    )
    server.start()
    assert server.process is not None
    try:
        wait_for(lambda: len(counted_by_process(folder)) == 2)  # both workers share
        sent = 0
        while sent < 400 and not all(counted_by_process(folder).values()):
            live_requests(server.url, 20)
            sent += 20
            time.sleep(1.2)  # a snapshot a second
        busy = {pid: n for pid, n in counted_by_process(folder).items() if n > 0}
        assert len(busy) == 2, busy
        wait_for(lambda: counted_by_scrape(server.url) == sent)

        victim = next(iter(busy))
        assert victim in children_of(server.process.pid)
        victim_counted = counted_by_process(folder)[victim]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: not os.path.exists(f"/proc/{victim}"))
        for _ in range(10):  # whichever process answers, the dead one's counts are in
            assert counted_by_scrape(server.url) == sent
        assert counted_by_process(folder)[victim] == victim_counted  # its file stays
    finally:
        server.stop()
