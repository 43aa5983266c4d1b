"""Training job end to end over HTTP: POST -> completed with the version in Staging.

Starts the real all-in-one server on embedded backends (SQLite metadata, MLflow on SQLite) in a
temp folder and times each job from the POST until the job reads `completed`. The seed promises
30-90 s per job; the baseline printed beside it is the seed's own registration path measured by
bench_registration.py in the same machine session.

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        server = Server(home=Path(home)).start()
        try:
            time_jobs(server, points=10_000, jobs=2, tag="warmup")
            results = {}
            for points in (10_000, 100_000):
                samples = time_jobs(server, points=points, jobs=args.jobs, tag=f"p{points}")
                results[points] = {
                    "median_ms": statistics.median(samples),
                    "p95_ms": percentile(samples, 95),
                }
                print(
                    f"training job end to end, {points:>7,} points: "
                    f"median {results[points]['median_ms']:.0f} ms, "
                    f"p95 {results[points]['p95_ms']:.0f} ms  (seed: 30,000-90,000 ms)"
                )
        finally:
            server.stop()
    print(json.dumps({"benchmark": "training_end_to_end", "results": results}))


if __name__ == "__main__":
    main()
