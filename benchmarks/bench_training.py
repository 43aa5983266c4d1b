"""Training over HTTP: POST latency, one job end to end, fleet throughput; each with a baseline.

Starts the real all-in-one server (embedded backends: SQLite metadata, MLflow on SQLite, the
in-process queue) in a temp folder and publishes ``training.*`` figures (``results.py``):

- ``post_json_100k_p99``: ``POST /api/v1/training/{id}`` with 100k points as JSON (epoch
  seconds), one request at a time, on a server without workers (the jobs stay queued): the
  API's cost alone. Baseline: a seed-style route in its own server process on the same stack
  (FastAPI's default body handling, stdlib ``json`` + a pydantic model, then the same rules,
  no persistence at all), same bodies.
- ``post_arrow_100k_p99``: the same points as an Arrow IPC body; baseline: JSON in this run.
- ``post_iso_100k_p99``: JSON with ISO-8601 timestamps; baseline: the seed-style route.
- ``e2e_100k_median`` / ``e2e_10k_median``: POST -> job ``completed`` with its version in
  Staging, one job at a time. Baseline: the seed worker's job body alone, in process (fit,
  ``mlflow.sklearn.log_model`` with registration, transition to Staging; bench_registration.py).
- ``fleet_embedded``: ``--fleet`` jobs of 10k points POSTed back to back, series/s from the
  first POST to the last completion (one MLflow run per version, the default); baseline: the
  seed worker body's series/s (one job at a time, 1 / its median at 10k points).
- ``fleet_embedded_no_runs``: the same with ``SERIESGUARD_MLFLOW_LOG_RUNS=false``.

    .venv/bin/python benchmarks/bench_training.py [--posts 120] [--jobs 10] [--fleet 150]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.results import Figure, publish
from tests.e2e.harness import Server, free_port, wait_until_up

ARROW = "application/vnd.apache.arrow.stream"
JSON = "application/json"
START = 1_600_000_000


def pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def json_bodies(count: int, points: int, *, iso: bool = False) -> list[bytes]:
    rng = np.random.default_rng(points)
    seconds = (START + 60 * np.arange(points)).tolist()
    timestamps: list[Any] = seconds
    if iso:
        timestamps = [
            datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") for t in seconds
        ]
    return [
        orjson.dumps({"timestamps": timestamps, "values": rng.normal(0, 1, points).tolist()})
        for _ in range(count)
    ]


def arrow_bodies(count: int, points: int, *, start: int = START) -> list[bytes]:
    import pyarrow as pa

    rng = np.random.default_rng(points)
    timestamps = pa.array(start + 60 * np.arange(points, dtype=np.int64))
    out = []
    for _ in range(count):
        table = pa.table({"timestamp": timestamps, "value": pa.array(rng.normal(0, 1, points))})
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        out.append(sink.getvalue().to_pybytes())
    return out


def post(http: httpx.Client, series_id: str, body: bytes, *, arrow: bool = False) -> str:
    suffix, media = ("/arrow", ARROW) if arrow else ("", JSON)
    answer = http.post(
        f"/api/v1/training/{series_id}{suffix}", content=body, headers={"content-type": media}
    )
    assert answer.status_code == 202, answer.text[:300]
    return str(answer.json()["job_id"])


def post_latencies(
    url: str, bodies: list[bytes], count: int, *, arrow: bool = False
) -> list[float]:
    """Milliseconds per POST, one at a time, cycling through ``bodies`` (2 warm-ups first)."""
    samples = []
    with httpx.Client(base_url=url, timeout=60) as http:
        for index in range(-2, count):
            body = bodies[index % len(bodies)]
            began = time.perf_counter()
            post(http, f"lat-{uuid.uuid4().hex[:12]}", body, arrow=arrow)
            if index >= 0:
                samples.append((time.perf_counter() - began) * 1000)
    return samples


def wait_done(http: httpx.Client, job_id: str, *, poll: float) -> None:
    while True:
        status = http.get(f"/api/v1/training/jobs/{job_id}").json()["status"]
        if status in ("completed", "failed", "cancelled"):
            assert status == "completed", status
            return
        time.sleep(poll)


def end_to_end(server: Server, bodies: list[bytes], tag: str) -> list[float]:
    """Milliseconds from each POST to its job completed, one job at a time."""
    durations = []
    with server.client() as http:
        for index, body in enumerate(bodies):
            began = time.perf_counter()
            wait_done(http, post(http, f"{tag}-{index}", body), poll=0.005)
            durations.append((time.perf_counter() - began) * 1000)
    return durations


def fleet_rate(server: Server, bodies: list[bytes], tag: str) -> float:
    """Series per second: all POSTs back to back, then every job waited for in order."""
    with server.client() as http:
        began = time.perf_counter()
        ids = [post(http, f"{tag}-{index}", body) for index, body in enumerate(bodies)]
        for job_id in ids:
            wait_done(http, job_id, poll=0.02)
        return len(bodies) / (time.perf_counter() - began)


def seed_worker_ms(points: int, jobs: int) -> list[float]:
    """The seed worker's job body (registration dominates; the z-score fit is ~0.1 ms)."""
    from bench_registration import seed_path  # sibling script: the seed's MLflow path

    values = np.random.default_rng(points).normal(0, 1, points)
    with tempfile.TemporaryDirectory() as folder:
        _first, samples = seed_path(Path(folder), jobs, values)
    return samples


class SeedTrainingRequest(BaseModel):
    """The seed's payload as a pydantic model, validated item by item by FastAPI."""

    timestamps: list[float | str]
    values: list[float]
    config: dict[str, Any] = {}


def seed_style_app() -> Any:
    """A training route as the seed describes it: FastAPI validates the payload with a
    pydantic model (stdlib json), then the rules; answers 202. It persists nothing."""
    from fastapi import FastAPI

    from seriesguard.core.validation import PointLimits, validate_training_data

    app = FastAPI()

    @app.post("/api/v1/training/{series_id}", status_code=202)
    def submit(series_id: str, body: SeedTrainingRequest) -> dict[str, str]:
        validate_training_data(body.timestamps, body.values, limits=PointLimits())
        return {"job_id": str(uuid.uuid4()), "series_id": series_id, "status": "queued"}

    return app


def run_seed_server(port: int) -> None:
    import uvicorn

    uvicorn.run(seed_style_app(), host="127.0.0.1", port=port, log_level="warning")


def seed_post_latencies(bodies: dict[str, list[bytes]], count: int) -> dict[str, list[float]]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, __file__, "--seed-server", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/openapi.json", process, describe=lambda: "", timeout=60)
        return {name: post_latencies(url, blobs, count) for name, blobs in bodies.items()}
    finally:
        process.terminate()
        process.wait(30)


def measure_posts(home: Path, count: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(ours, seed-style) POST latencies of 100k-point bodies, by body kind."""
    bodies = {"json": json_bodies(5, 100_000), "iso": json_bodies(5, 100_000, iso=True)}
    api = Server(home=home / "api", env={"SERIESGUARD_WORKER_CONCURRENCY": "0"}).start()
    try:
        ours = {name: post_latencies(api.url, blobs, count) for name, blobs in bodies.items()}
        ours["arrow"] = post_latencies(api.url, arrow_bodies(5, 100_000), count, arrow=True)
    finally:
        api.stop()
    return ours, seed_post_latencies(bodies, count)


def spread(samples: list[float]) -> dict[str, float]:
    return {"p50_ms": pct(samples, 50), "p90_ms": pct(samples, 90), "samples": len(samples)}


def post_figures(ours: dict[str, list[float]], seed: dict[str, list[float]]) -> list[Figure]:
    seed_label = "seed-style route: stdlib json + pydantic model + the same rules, no persistence"
    common: dict[str, Any] = {"unit": "ms", "target": 50.0, "target_label": "p99 < 50 ms"}
    return [
        Figure(
            id="training.post_json_100k_p99",
            title="POST /training, 100k points as JSON (epoch seconds), p99",
            value=pct(ours["json"], 99),
            baseline=pct(seed["json"], 99),
            baseline_label=seed_label,
            extra={**spread(ours["json"]), "baseline_p50_ms": pct(seed["json"], 50)},
            **common,
        ),
        Figure(
            id="training.post_arrow_100k_p99",
            title="POST /training/{id}/arrow, 100k points as an Arrow IPC body, p99",
            value=pct(ours["arrow"], 99),
            baseline=pct(ours["json"], 99),
            baseline_label="the same points as JSON, same server",
            extra={**spread(ours["arrow"]), "baseline_p50_ms": pct(ours["json"], 50)},
            **common,
        ),
        Figure(
            id="training.post_iso_100k_p99",
            title="POST /training, 100k points as JSON with ISO-8601 timestamps, p99",
            value=pct(ours["iso"], 99),
            unit="ms",
            baseline=pct(seed["iso"], 99),
            baseline_label=seed_label,
            extra={**spread(ours["iso"]), "baseline_p50_ms": pct(seed["iso"], 50)},
        ),
    ]


def measure_jobs(home: Path, *, jobs: int, fleet: int) -> dict[str, float]:
    """End-to-end medians and fleet rates on the default server, then without runs."""
    out: dict[str, float] = {}
    small = json_bodies(max(jobs, fleet), 10_000)
    server = Server(home=home / "serve").start()
    try:
        end_to_end(server, small[:2], "warmup")
        for points, bodies in ((10_000, small[:jobs]), (100_000, json_bodies(jobs, 100_000))):
            samples = end_to_end(server, bodies, f"e2e-{points}")
            out[f"e2e_{points}_median"] = statistics.median(samples)
            out[f"e2e_{points}_p95"] = pct(samples, 95)
        out["fleet"] = fleet_rate(server, small[:fleet], "fleet")
    finally:
        server.stop()
    server = Server(home=home / "noruns", env={"SERIESGUARD_MLFLOW_LOG_RUNS": "false"}).start()
    try:
        end_to_end(server, small[:2], "warmup")
        out["fleet_no_runs"] = fleet_rate(server, small[:fleet], "fleet")
    finally:
        server.stop()
    return out


def job_figures(
    ours: dict[str, float], seed10k: float, seed100k: float, fleet: int
) -> list[Figure]:
    seed_body = "seed worker body: fit + mlflow.sklearn.log_model + stage transition"
    seed_rate = 1000 / seed10k
    return [
        Figure(
            id="training.e2e_100k_median",
            title="training job end to end (POST -> completed, version in Staging), 100k points",
            value=ours["e2e_100000_median"],
            unit="ms",
            baseline=seed100k,
            baseline_label=seed_body,
            target=1000.0,
            target_label="median < 1 s",
            extra={"p95_ms": ours["e2e_100000_p95"]},
        ),
        Figure(
            id="training.e2e_10k_median",
            title="training job end to end, 10k points",
            value=ours["e2e_10000_median"],
            unit="ms",
            baseline=seed10k,
            baseline_label=seed_body,
            extra={"p95_ms": ours["e2e_10000_p95"]},
        ),
        Figure(
            id="training.fleet_embedded",
            title=f"fleet training, embedded, {fleet} jobs of 10k points (one MLflow run each)",
            value=ours["fleet"],
            unit="series/s",
            better="higher",
            baseline=seed_rate,
            baseline_label=f"{seed_body}, one job at a time",
            target=50.0,
        ),
        Figure(
            id="training.fleet_embedded_no_runs",
            title="same, versions without MLflow runs (SERIESGUARD_MLFLOW_LOG_RUNS=false)",
            value=ours["fleet_no_runs"],
            unit="series/s",
            better="higher",
            baseline=seed_rate,
            baseline_label=f"{seed_body}, one job at a time",
            target=50.0,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=120, help="POSTs timed per body kind")
    parser.add_argument("--jobs", type=int, default=10, help="end-to-end jobs per size")
    parser.add_argument("--fleet", type=int, default=150, help="jobs in the fleet run")
    parser.add_argument("--seed-jobs", type=int, default=3, help="seed worker bodies timed")
    parser.add_argument("--seed-server", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_server:
        run_seed_server(args.seed_server)
        return
    with tempfile.TemporaryDirectory(prefix="bench-training-") as tmp:
        ours_posts, seed_posts = measure_posts(Path(tmp), args.posts)
        jobs = measure_jobs(Path(tmp), jobs=args.jobs, fleet=args.fleet)
    seed10k = statistics.median(seed_worker_ms(10_000, args.seed_jobs))
    seed100k = statistics.median(seed_worker_ms(100_000, args.seed_jobs))
    figures = post_figures(ours_posts, seed_posts)
    figures += job_figures(jobs, seed10k=seed10k, seed100k=seed100k, fleet=args.fleet)
    publish("training", figures)


if __name__ == "__main__":
    main()
