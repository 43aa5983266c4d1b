"""Fleet training throughput through the distributed topology, and POST /training latency.

Distributed: 1 api + 2 workers (concurrency 1 each) over RabbitMQ, PostgreSQL metadata, an
MLflow tracking server on PostgreSQL + S3 (moto), training data on S3. Baseline in the same
run: the embedded all-in-one server (SQLite, in-process queue, 2 worker threads) on the same
jobs. Throughput = jobs / (first POST -> last completed). Everything runs on this one machine,
so the run also prints the CPU each party spent per series (from /proc): seriesguard's own
processes (api, workers) against the services (MLflow server, S3, PostgreSQL, RabbitMQ) that
production runs elsewhere. Publishes ``topology.*`` figures through ``results.py``.

    .venv/bin/python benchmarks/bench_topology.py [--jobs 100] [--no-runs] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bench_training import arrow_bodies
from benchmarks.results import Figure, publish
from tests.e2e.harness import Server
from tests.e2e.topology import Topology


def bodies(count: int, points: int) -> list[bytes]:
    rng = np.random.default_rng(points)
    timestamps = (1_700_000_000 + 60 * np.arange(points)).tolist()
    return [
        json.dumps({"timestamps": timestamps, "values": rng.normal(0, 1, points).tolist()}).encode()
        for _ in range(count)
    ]


def post_all(
    http: httpx.Client, payloads: list[bytes], tag: str, *, arrow: bool = False
) -> tuple[list[str], list[float]]:
    """(job ids, POST latencies in ms), one request at a time."""
    latencies, ids = [], []
    suffix, media = ("/arrow", ARROW) if arrow else ("", "application/json")
    for index, body in enumerate(payloads):
        began = time.perf_counter()
        answer = http.post(
            f"/api/v1/training/{tag}-{index}{suffix}",
            content=body,
            headers={"content-type": media},
        )
        latencies.append((time.perf_counter() - began) * 1000)
        assert answer.status_code == 202, answer.text
        ids.append(answer.json()["job_id"])
    return ids, latencies


def latency_only(
    api: Server, payloads: list[bytes], tag: str, *, arrow: bool = False
) -> list[float]:
    """POST latencies with no worker running (the API alone on the machine); the jobs are
    cancelled afterwards so that they never train."""
    with api.client() as http:
        ids, latencies = post_all(http, payloads, tag, arrow=arrow)
        for job_id in ids:
            assert http.delete(f"/api/v1/training/jobs/{job_id}").status_code == 200
    return latencies


def run(api: Server, payloads: list[bytes], tag: str) -> tuple[float, list[float]]:
    """(series per second, POST latencies in ms)."""
    with api.client() as http:
        start = time.perf_counter()
        ids, latencies = post_all(http, payloads, tag)
        _wait_all(http, ids)
        elapsed = time.perf_counter() - start
    return len(payloads) / elapsed, latencies


def _wait_all(http: httpx.Client, ids: list[str]) -> None:
    """Waits job by job in submission order: one status request at a time, so the polling
    itself costs the api next to nothing (jobs finish roughly in that order)."""
    for job_id in ids:
        while True:
            status = http.get(f"/api/v1/training/jobs/{job_id}").json()["status"]
            if status in ("completed", "failed", "cancelled"):
                assert status == "completed", status
                break
            time.sleep(0.05)


_PARTIES = (  # command-line fragment -> party
    ("gunicorn", "mlflow"), ("mlflow", "mlflow"), ("moto", "s3 (moto)"), ("postgres", "postgresql"),
    ("beam", "rabbitmq"), ("seriesguard worker", "workers"), ("seriesguard api", "api"),
)  # fmt: skip


def cpu_seconds() -> collections.Counter[str]:
    """CPU seconds used so far by each party's live processes."""
    tick, used = os.sysconf("SC_CLK_TCK"), collections.Counter[str]()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        party = next((name for part, name in _PARTIES if part in command), "other")
        used[party] += (int(stat[11]) + int(stat[12])) / tick
    return used


ARROW = "application/vnd.apache.arrow.stream"


def pct(samples: list[float], q: float) -> float:
    return float(np.percentile(samples, q))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=1, help="threads per worker process")
    parser.add_argument(
        "--no-runs", action="store_true", help="workers register versions without MLflow runs"
    )
    args = parser.parse_args()
    report, cpu = measure(args)
    publish("topology", figures(report, cpu, args))


def measure(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float]]:
    """(figures by name, CPU ms per series by party) of one distributed + embedded run."""
    small, large = bodies(args.jobs, 10_000), bodies(10, 100_000)
    report: dict[str, float] = {}
    runs = {"SERIESGUARD_MLFLOW_LOG_RUNS": str(not args.no_runs).lower()}
    with tempfile.TemporaryDirectory() as tmp:
        world = Topology(root=Path(tmp)).start_backends()
        try:
            api = world.start("api", "api")
            latency_only(api, small[:5], "warmup-post")
            report["post_10k"] = pct(latency_only(api, small[:50], "post-10k"), 99)
            report["post_100k"] = pct(latency_only(api, large, "post-100k"), 99)
            arrow = arrow_bodies(20, 100_000, start=1_700_000_000)
            report["arrow_100k"] = pct(latency_only(api, arrow, "arrow-100k", arrow=True), 99)
            for name in ("worker-1", "worker-2"):
                world.start(name, "worker", "--concurrency", str(args.concurrency), **runs)
            run(api, small[:4], "warmup")
            before = cpu_seconds()
            report["distributed"], lat = run(api, small, "fleet")
            spent = cpu_seconds()
            cpu = {k: (spent[k] - before[k]) / args.jobs * 1000 for k in spent}
            report["post_10k_loaded_p50"] = pct(lat, 50)
        finally:
            world.stop()
        embedded = Server(home=Path(tmp) / "embedded", env=runs).start()
        try:
            run(embedded, small[:4], "warmup")
            report["embedded"], _ = run(embedded, small, "fleet")
        finally:
            embedded.stop()
    return report, cpu


def figures(report: dict[str, float], cpu: dict[str, float], args: Any) -> list[Figure]:
    shape = f"{args.jobs} jobs of 10k points, 2 workers x {args.concurrency} thread(s)"
    runs = "versions without MLflow runs" if args.no_runs else "one MLflow run per version"
    ours = cpu.get("api", 0) + cpu.get("workers", 0)
    on_box = "every service on this one machine; "
    latency = "distributed api (PostgreSQL, data to S3), no training running"
    return [
        Figure(
            id="topology.distributed_throughput",
            title=f"fleet training, distributed (RabbitMQ, MLflow server, PostgreSQL, S3), "
            f"{shape}, {runs}",
            value=report["distributed"],
            unit="series/s",
            better="higher",
            baseline=report["embedded"],
            baseline_label="embedded all-in-one server, same jobs",
            target=20.0,
            notes=on_box + "see topology.cpu_per_series",
        ),
        Figure(
            id="topology.cpu_per_series",
            title="CPU per series of seriesguard's own processes (api + workers)",
            value=ours,
            unit="ms",
            notes=f"{2000 / ours:.0f} series/s on 2 cores with the services elsewhere"
            if ours
            else "",
            # "other": every other process on the machine (other users' too): not a party
            extra={f"{p} ms": round(ms, 1) for p, ms in sorted(cpu.items()) if p != "other"},
        ),
        Figure(
            id="topology.post_100k_p99",
            title=f"POST /training, 100k points as JSON, p99 ({latency})",
            value=report["post_100k"],
            unit="ms",
            extra={"samples": 10},
        ),
        Figure(
            id="topology.post_arrow_100k_p99",
            title=f"POST /training/{{id}}/arrow, 100k points, p99 ({latency})",
            value=report["arrow_100k"],
            unit="ms",
            baseline=report["post_100k"],
            baseline_label="the same points as JSON",
            extra={"samples": 20},
        ),
        Figure(
            id="topology.post_10k_p99",
            title=f"POST /training, 10k points as JSON, p99 ({latency})",
            value=report["post_10k"],
            unit="ms",
            extra={"samples": 50},
        ),
        Figure(
            id="topology.post_10k_loaded_p50",
            title="POST /training, 10k points, p50 while the fleet trains on the same cores",
            value=report["post_10k_loaded_p50"],
            unit="ms",
        ),
    ]


if __name__ == "__main__":
    main()
