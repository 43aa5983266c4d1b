"""Start the real ``seriesguard serve`` process on a free port and talk to it over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    home: Path
    env: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    command: tuple[str, ...] = ("serve",)
    name: str = "server"
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 90.0) -> Server:
        # mlflow.set_tracking_uri() in this test process exports MLFLOW_TRACKING_URI; a server
        # must use its own home's store unless a test names one on purpose.
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env = {
            **inherited,
            "SERIESGUARD_HOME": str(self.home),
            "SERIESGUARD_TRAINING_MIN_INTERVAL_SECONDS": "0",
            "SERIESGUARD_LOG_LEVEL": "WARNING",
            **self.env,
        }
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "seriesguard", *self.command, "--port", str(self.port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until_up(
            f"{self.url}/api/v1/readiness", self.process, describe=self.log_tail, timeout=timeout
        )
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def log_path(self) -> Path:
        return self.home / f"{self.name}.log"

    def log_tail(self, lines: int = 40) -> str:
        path = self.log_path
        return (
            "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
            if path.exists()
            else ""
        )

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60)


def wait_until_up(
    url: str,
    process: subprocess.Popen[bytes],
    *,
    describe: Callable[[], str],
    timeout: float,
) -> None:
    """Until ``url`` answers 200; fails at once with ``describe()`` if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited with {process.returncode}: {describe()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not up after {timeout} s: {describe()}")


def wait_job(client: httpx.Client, job_id: str, *, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/api/v1/training/jobs/{job_id}").json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} not finished after {timeout} s")


def submit_training(http: httpx.Client, series: str, *, seed: int, points: int = 10_000) -> str:
    """POST a training job of ``points`` random values one minute apart; returns its id."""
    values = np.random.default_rng(seed).normal(0, 1, points).tolist()
    timestamps = (1_700_000_000 + 60 * np.arange(points)).tolist()
    answer = http.post(
        f"/api/v1/training/{series}",
        content=json.dumps({"timestamps": timestamps, "values": values}),
        headers={"content-type": "application/json"},
    )
    assert answer.status_code == 202, answer.text
    job_id: str = answer.json()["job_id"]
    return job_id
