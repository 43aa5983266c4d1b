"""`seriesguard predictor --workers 2`: two processes on one port, each with every model,
all of them gone after SIGTERM."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.catalog import catalog_with
from tests.e2e.harness import Server

pytestmark = pytest.mark.e2e


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
            except OSError:
                continue
            if int(ppid) == pid:
                found.append(int(entry.name))
    return found


def test_two_workers_serve_every_model_and_stop_together(tmp_path: Path) -> None:
    series = [f"w-{i}" for i in range(50)]
    catalog_with(tmp_path, series)
    server = Server(home=tmp_path, command=("predictor", "--workers", "2"), name="workers")
    server.start()
    assert server.process is not None
    try:
        workers = _wait_for_workers(server.process.pid, count=2)
        for attempt in range(20):  # fresh connections, so both processes get some
            with httpx.Client(base_url=server.url, timeout=10) as http:
                answer = http.post(
                    f"/api/v1/predict/{series[attempt]}", json={"timestamp": 0, "value": 4}
                )
            assert answer.status_code == 200, answer.text
            assert answer.json()["model_info"]["type"] == "mlflow_trained"
    finally:
        server.stop()
    assert server.process.returncode == 0, server.log_tail()
    assert not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]


def _wait_for_workers(parent: int, *, count: int, timeout: float = 60) -> list[int]:
    """uvicorn's worker processes (spawned, so beside multiprocessing's resource tracker)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = [
            pid
            for pid in children_of(parent)
            if "resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
        ]
        if len(workers) >= count:
            return workers
        time.sleep(0.2)
    raise TimeoutError(f"{count} workers not started")
