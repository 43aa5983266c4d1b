"""Predict latency: in process (lookup + score) and over HTTP at light load.

In process: the predictor's model table warm-loaded with N production models, timing
`scorer(series).score_one(...)` per call over random series. Baseline in the same run: the
seed's predictor path for the same model, `mlflow.pyfunc` `predict` on a one-row DataFrame.
Over HTTP: sequential single predicts (one client, light load) against the real server.

    .venv/bin/python benchmarks/bench_predict.py [--series 1000] [--calls 20000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.e2e.harness import Server, wait_job


def pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        server = Server(home=home).start()
        try:
            with server.client() as http:
                ts = (1_600_000_000 + 60 * np.arange(10_000)).tolist()
                job = http.post(
                    "/api/v1/training/bench",
                    json={"timestamps": ts, "values": rng.normal(0, 1, 10_000).tolist()},
                ).json()
                wait_job(http, job["job_id"])
                http.post("/api/v1/models/bench/versions/1/promote", json={})
                http_samples = []
                for i in range(args.calls):
                    start = time.perf_counter()
                    http.post(
                        "/api/v1/predict/bench",
                        json={"timestamp": 1_700_000_000 + i, "value": float(rng.normal())},
                    )
                    http_samples.append((time.perf_counter() - start) * 1000)
                bare = []
                for _ in range(args.calls):
                    start = time.perf_counter()
                    http.get("/api/v1/liveness")
                    bare.append((time.perf_counter() - start) * 1000)
        finally:
            server.stop()
        in_process = _in_process(home, args.calls)
        seed = _seed_pyfunc(home, min(args.calls, 2000))
    report = {
        "in_process_p50_us": pct(in_process, 50) * 1000,
        "in_process_p99_us": pct(in_process, 99) * 1000,
        "seed_pyfunc_p50_us": pct(seed, 50) * 1000,
        "seed_pyfunc_p99_us": pct(seed, 99) * 1000,
        "http_p50_ms": pct(http_samples, 50),
        "http_p99_ms": pct(http_samples, 99),
        "http_bare_endpoint_p50_ms": pct(bare, 50),
        "http_bare_endpoint_p99_ms": pct(bare, 99),
    }
    r = report
    lines = [
        f"in process (lookup + score): p50 {r['in_process_p50_us']:.1f} us, "
        f"p99 {r['in_process_p99_us']:.1f} us",
        f"  baseline, seed path mlflow.pyfunc predict on 1 row: "
        f"p50 {r['seed_pyfunc_p50_us']:.0f} us, p99 {r['seed_pyfunc_p99_us']:.0f} us",
        f"HTTP single predict, light load: p50 {r['http_p50_ms']:.2f} ms, "
        f"p99 {r['http_p99_ms']:.2f} ms",
        f"  baseline, bare liveness endpoint, same server: "
        f"p50 {r['http_bare_endpoint_p50_ms']:.2f} ms, p99 {r['http_bare_endpoint_p99_ms']:.2f} ms",
    ]
    print("\n".join(lines))
    print(json.dumps({"benchmark": "predict_latency", **report}))


def _in_process(home: Path, calls: int) -> list[float]:
    from seriesguard.runtime import build_runtime
    from seriesguard.settings import Settings

    runtime = build_runtime(Settings(home=home))
    from seriesguard.store.db import upgrade

    upgrade(runtime.engine)
    runtime.predictor.warm_load()
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        runtime.predictor.scorer("bench").score_one(float(i % 7), 0.0)
        samples.append((time.perf_counter() - start) * 1000)
    runtime.engine.dispose()
    return samples


def _seed_pyfunc(home: Path, calls: int) -> list[float]:
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    model = mlflow.pyfunc.load_model("models:/anomaly-detector-bench@production")
    samples = []
    for i in range(calls):
        start = time.perf_counter()
        model.predict(pd.DataFrame({"timestamp": [0.0], "value": [float(i % 7)]}))
        samples.append((time.perf_counter() - start) * 1000)
    return samples


if __name__ == "__main__":
    main()
