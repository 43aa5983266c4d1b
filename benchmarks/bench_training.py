"""Training job end to end over HTTP: POST -> completed with the version in Staging.

Starts the real all-in-one server on embedded backends (SQLite metadata, MLflow on SQLite) in a
temp folder and times each job from the POST until the job reads `completed`. The seed promises
30-90 s per job. Baseline measured in the same run: the seed worker's job body alone (fit the
z-score, `mlflow.sklearn.log_model` with registration, transition to Staging; see
bench_registration.py), in process, without any HTTP or queueing.

    .venv/bin/python benchmarks/bench_training.py [--jobs 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.harness import Server


def percentile(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def time_jobs(server: Server, *, points: int, jobs: int, tag: str) -> list[float]:
    rng = np.random.default_rng(points)
    timestamps = (1_600_000_000 + 60 * np.arange(points)).tolist()
    durations = []
    with server.client() as http:
        for index in range(jobs):
            body = {"timestamps": timestamps, "values": rng.normal(0, 1, points).tolist()}
            payload = json.dumps(body).encode()
            start = time.perf_counter()
            answer = http.post(
                f"/api/v1/training/{tag}-{index}",
                content=payload,
                headers={"content-type": "application/json"},
            )
            job_id = answer.json()["job_id"]
            while True:
                job = http.get(f"/api/v1/training/jobs/{job_id}").json()
                if job["status"] in ("completed", "failed", "cancelled"):
                    break
                time.sleep(0.005)
            durations.append((time.perf_counter() - start) * 1000)
            assert job["status"] == "completed", job
    return durations


def seed_baseline(points: int, jobs: int) -> list[float]:
    from bench_registration import seed_path  # sibling script: the seed's MLflow path

    values = np.random.default_rng(points).normal(0, 1, points)
    with tempfile.TemporaryDirectory() as folder:
        _first, samples = seed_path(Path(folder), jobs, values)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10)
    parser.add_argument("--seed-jobs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        server = Server(home=Path(home)).start()
        try:
            time_jobs(server, points=10_000, jobs=2, tag="warmup")
            results: dict[int, dict[str, float]] = {}
            for points in (10_000, 100_000):
                samples = time_jobs(server, points=points, jobs=args.jobs, tag=f"p{points}")
                results[points] = {
                    "median_ms": statistics.median(samples),
                    "p95_ms": percentile(samples, 95),
                }
        finally:
            server.stop()
    for points in (10_000, 100_000):
        seed = seed_baseline(points, args.seed_jobs)
        results[points]["seed_median_ms"] = statistics.median(seed)
        row = results[points]
        print(
            f"training job end to end, {points:>7,} points: median {row['median_ms']:.0f} ms, "
            f"p95 {row['p95_ms']:.0f} ms | seed worker body, same run: median "
            f"{row['seed_median_ms']:.0f} ms ({row['seed_median_ms'] / row['median_ms']:.0f}x)"
        )
    print(json.dumps({"benchmark": "training_end_to_end", "results": results}))


if __name__ == "__main__":
    main()
