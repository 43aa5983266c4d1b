"""Fleet training throughput through the distributed topology, and POST /training latency.

Distributed: 1 api + 2 workers (concurrency 1 each) over RabbitMQ, PostgreSQL metadata, an
MLflow tracking server on PostgreSQL + S3 (moto), training data on S3. Baseline in the same
run: the embedded all-in-one server (SQLite, in-process queue, 2 worker threads) on the same
jobs. Throughput = jobs / (first POST -> last completed). Everything runs on this one machine,
so the run also prints the CPU each party spent per series (from /proc): seriesguard's own
processes (api, workers) against the services (MLflow server, S3, PostgreSQL, RabbitMQ) that
production runs elsewhere.

    .venv/bin/python benchmarks/bench_topology.py [--jobs 100]
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

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.harness import Server
from tests.e2e.topology import Topology


def bodies(count: int, points: int) -> list[bytes]:
    rng = np.random.default_rng(points)
    timestamps = (1_700_000_000 + 60 * np.arange(points)).tolist()
    return [
        json.dumps({"timestamps": timestamps, "values": rng.normal(0, 1, points).tolist()}).encode()
        for _ in range(count)
    ]


def arrow_bodies(count: int, points: int) -> list[bytes]:
    """The same windows as Arrow IPC streams (``POST /api/v1/training/{id}/arrow``)."""
    import pyarrow as pa

    rng = np.random.default_rng(points)
    timestamps = pa.array(1_700_000_000 + 60 * np.arange(points, dtype=np.int64))
    out = []
    for _ in range(count):
        table = pa.table({"timestamp": timestamps, "value": pa.array(rng.normal(0, 1, points))})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out.append(sink.getvalue().to_pybytes())
    return out


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
    small, large = bodies(args.jobs, 10_000), bodies(10, 100_000)
    report: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        world = Topology(root=Path(tmp)).start_backends()
        try:
            api = world.start("api", "api")
            latency_only(api, small[:5], "warmup-post")
            lat = latency_only(api, small[:50], "post-10k")
            report["post_10k_p50_ms"], report["post_10k_p99_ms"] = pct(lat, 50), pct(lat, 99)
            lat = latency_only(api, large, "post-100k")
            report["post_100k_p50_ms"], report["post_100k_p99_ms"] = pct(lat, 50), pct(lat, 99)
            lat = latency_only(api, arrow_bodies(20, 100_000), "arrow-100k", arrow=True)
            report["arrow_100k_p50_ms"], report["arrow_100k_p99_ms"] = pct(lat, 50), pct(lat, 99)
            for name in ("worker-1", "worker-2"):
                world.start(
                    name,
                    "worker",
                    "--concurrency",
                    str(args.concurrency),
                    SERIESGUARD_MLFLOW_LOG_RUNS=str(not args.no_runs).lower(),
                )
            run(api, small[:4], "warmup")
            before = cpu_seconds()
            report["distributed_series_per_s"], lat = run(api, small, "fleet")
            spent = cpu_seconds()
            cpu = {k: (spent[k] - before[k]) / args.jobs * 1000 for k in spent}
            report["post_10k_loaded_p50_ms"] = pct(lat, 50)
            report["post_10k_loaded_p99_ms"] = pct(lat, 99)
        finally:
            world.stop()
        embedded = Server(
            home=Path(tmp) / "embedded",
            env={"SERIESGUARD_MLFLOW_LOG_RUNS": str(not args.no_runs).lower()},
        ).start()
        try:
            run(embedded, small[:4], "warmup")
            report["embedded_series_per_s"], _ = run(embedded, small, "fleet")
        finally:
            embedded.stop()
    print(
        f"fleet training, {args.jobs} jobs of 10k points, 2 workers x {args.concurrency} "
        f"threads over RabbitMQ + MLflow server + PostgreSQL + S3"
        f"{' (versions without runs)' if args.no_runs else ''}: "
        f"{report['distributed_series_per_s']:.1f} series/s\n"
        f"  baseline, embedded all-in-one on the same jobs: "
        f"{report['embedded_series_per_s']:.1f} series/s (seed budget: 2.35 trainings/s)\n"
        f"POST /training (distributed api, no training running): 10k points p50 "
        f"{report['post_10k_p50_ms']:.0f} ms, p99 {report['post_10k_p99_ms']:.0f} ms; 100k "
        f"points p50 {report['post_100k_p50_ms']:.0f} ms, p99 {report['post_100k_p99_ms']:.0f} "
        f"ms (seed: ~20 ms)\n  100k points as an Arrow body: p50 "
        f"{report['arrow_100k_p50_ms']:.0f} ms, p99 {report['arrow_100k_p99_ms']:.0f} ms"
        f"\n  10k points while the fleet trains on the same 2 cores: p50 "
        f"{report['post_10k_loaded_p50_ms']:.0f} ms, p99 {report['post_10k_loaded_p99_ms']:.0f} ms"
    )
    ours = cpu.get("api", 0) + cpu.get("workers", 0)
    print(
        "CPU per series (ms): "
        + ", ".join(f"{k} {v:.0f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]))
        + f"\n  seriesguard's own processes: {ours:.0f} ms/series, i.e. "
        f"{2000 / ours:.0f} series/s on 2 cores with the services elsewhere"
    )
    report |= {f"cpu_ms_{k.split()[0]}": v for k, v in cpu.items()}
    print(json.dumps({"benchmark": "topology", **report}))


if __name__ == "__main__":
    main()
