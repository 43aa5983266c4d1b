"""A live ``seriesguard serve`` for the DAG tests, started from the MAIN venv.

The Airflow venv holds only the client (httpx + orjson); the server runs with its own
dependencies in ``<repo>/.venv``, exactly as Airflow would reach a deployed API.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from seriesguard.client import SeriesguardClient

REPO = Path(__file__).resolve().parents[1]
SERVER_BIN = REPO / ".venv" / "bin" / "seriesguard"
MIN_POINTS = 100

# Small limits so a series trains on a few hundred points and rollouts decide in seconds;
# the server's own scheduled retraining and drift check are off so every job the tests see
# was queued by a DAG.
SERVER_ENV = {
    "SERIESGUARD_LOG_LEVEL": "WARNING",
    "SERIESGUARD_MIN_TRAINING_POINTS": str(MIN_POINTS),
    "SERIESGUARD_TRAINING_MIN_INTERVAL_SECONDS": "0",
    "SERIESGUARD_RETRAIN_SCHEDULE": "",
    "SERIESGUARD_DRIFT_SCHEDULE": "",
    "SERIESGUARD_STATS_FLUSH_SECONDS": "0.5",
    "SERIESGUARD_HISTORY_FLUSH_SECONDS": "0.5",
    "SERIESGUARD_PROMOTION_CHECK_SECONDS": "0.5",
    "SERIESGUARD_DRIFT_MIN_SAMPLES": "30",
    "SERIESGUARD_SHADOW_MIN_REQUESTS": "20",
    # Latencies of microseconds make a p99 ratio noise; the verdict is tested elsewhere.
    "SERIESGUARD_SHADOW_MAX_LATENCY_RATIO": "1000",
    "SERIESGUARD_CANARY_MAX_P99_MS": "60000",
    "SERIESGUARD_CANARY_MIN_REQUESTS": "1000000",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveApi:
    home: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.home / "server.log"

    def start(self, *, timeout: float = 120.0) -> LiveApi:
        if not SERVER_BIN.exists():
            raise RuntimeError(f"{SERVER_BIN} is missing: run `make` in {REPO} first")
        self.home.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AIRFLOW"))}
        env.update(SERVER_ENV, SERIESGUARD_HOME=str(self.home))
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(SERVER_BIN), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_up(timeout)
        return self

    def _wait_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited {self.process.returncode}: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/v1/readiness", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"server not up after {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def client(self) -> SeriesguardClient:
        return SeriesguardClient(self.url, timeout=60.0)


def wave(n: int, *, phase: float = 0.0, level: float = 0.0) -> list[float]:
    """A smooth, non-constant series (no numpy in this venv)."""
    return [level + math.sin(phase + i / 7.0) + 0.1 * math.cos(i * 1.3) for i in range(n)]


def train_version(
    client: SeriesguardClient, series_id: str, *, phase: float = 0.0, **config: Any
) -> str:
    """Train on MIN_POINTS*2 points one minute apart; returns the new (Staging) version."""
    n = MIN_POINTS * 2
    timestamps = [1_700_000_000 + 60 * i for i in range(n)]
    job = client.train(series_id, timestamps=timestamps, values=wave(n, phase=phase), **config)
    done = client.wait_for_job(job["job_id"], timeout=120, poll_interval=0.2)
    assert done["status"] == "completed", done
    return str(done["model_version"])


def send_recent_history(client: SeriesguardClient, series_id: str, *, points: int) -> None:
    """Points one minute apart ending now, inside any window_hours >= points/60."""
    now = int(time.time())
    timestamps = [now - 60 * (points - i) for i in range(points)]
    client.send_data(series_id, timestamps=timestamps, values=wave(points, phase=1.0))


def jobs_of(client: SeriesguardClient, series_id: str) -> list[dict[str, Any]]:
    return list(client.jobs(series_id=series_id, limit=100)["items"])
