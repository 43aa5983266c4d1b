"""Processes of the serving benchmarks: servers (start, wait until warm, CPU used, stop) and
runs of the load generator (``loadgen.py``, its own process) against them."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

STARTED = "Application startup complete"  # uvicorn, once per serving process
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOADGEN = Path(__file__).resolve().parent / "loadgen.py"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its live descendants (uvicorn workers)."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
        todo += _children(current)
    return total


@dataclass
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    ready_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    @classmethod
    def start(
        cls,
        args: list[str],
        *,
        env: dict[str, str],
        port: int,
        log: Path,
        workers: int,
        timeout: float = 600.0,
    ) -> ServerProcess:
        """Start ``python *args``; return once it answers readiness and, for a server of
        ``workers`` processes, once each of them has finished its start-up (warm load)."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        started = time.perf_counter()
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, *args],
                env={**inherited, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        server = cls(process=process, port=port, log=log)
        server._wait_ready(started, workers=workers, timeout=timeout)
        server.ready_seconds = time.perf_counter() - started
        return server

    def _wait_ready(self, started: float, *, workers: int, timeout: float) -> None:
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"server exited with {self.process.returncode}: {tail}")
            if self._answers() and self.log.read_text(errors="replace").count(STARTED) >= workers:
                return
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"server on port {self.port} not ready after {timeout} s")

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.url}/api/v1/readiness", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def loadgen(url: str, *, series_file: Path | None = None, **options: Any) -> dict[str, Any]:
    """Run the load generator in its own process; its JSON report."""
    command = [sys.executable, str(LOADGEN), "--url", url]
    if series_file is not None:
        command += ["--series-file", str(series_file)]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def measured(server: ServerProcess, **options: Any) -> dict[str, Any]:
    """``loadgen`` against ``server``, with the server's CPU per response of the whole run."""
    before = tree_cpu_seconds(server.pid)
    report = loadgen(server.url, **options)
    spent = tree_cpu_seconds(server.pid) - before
    report["server_cpu_us"] = round(spent / max(report["answered_in_run"], 1) * 1e6, 1)
    return report


def combined(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """Rounds of one kind as one: total requests over total seconds, worst percentiles."""
    seconds = sum(r["seconds"] for r in reports)
    requests = sum(r["requests"] for r in reports)
    cpu = sum(r["server_cpu_us"] * r["requests"] for r in reports) / max(requests, 1)
    return {
        "rate": requests / seconds,
        "requests": requests,
        "errors": sum(r["non_2xx"] + r["transport_errors"] for r in reports),
        "p50_ms": max(r["p50_ms"] for r in reports),
        "p99_ms": max(r["p99_ms"] for r in reports),
        "server_cpu_us": cpu,
        "rounds": [round(r["rate"]) for r in reports],
    }
