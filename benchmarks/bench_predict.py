"""Predict latency without load: in process (lookup + score) and one HTTP client at a time.

A fleet of production models (``--series``, default 1,000) is imported into a temporary home.
In process: the predictor's model table warm-loaded from it, timing
``resident_scorer(series).score_one(...)`` over random series. Baseline in the same run: the
seed's predictor path for one model already in its cache, ``mlflow.pyfunc`` ``predict`` on a
one-row DataFrame. Over HTTP: sequential single predicts (one client, keep-alive) against a
real ``seriesguard predictor``; baseline, the bare liveness endpoint of the same server.
Throughput and latency under load are ``bench_serving.py``'s.

    .venv/bin/python benchmarks/bench_predict.py [--series 1000] [--calls 5000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fleet import build_fleet
from benchmarks.results import Figure, publish
from benchmarks.serving_procs import ServerProcess, free_port


def percentiles_us(samples: list[float]) -> tuple[float, float]:
    values = np.asarray(samples) * 1e6
    return float(np.percentile(values, 50)), float(np.percentile(values, 99))


def timed(call: Callable[[int], object], count: int) -> list[float]:
    samples = []
    for i in range(count):
        start = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - start)
    return samples


def in_process(home: Path, ids: list[str], calls: int) -> list[float]:
    from seriesguard.runtime import Role, build_runtime
    from seriesguard.settings import Settings
    from seriesguard.store.db import upgrade

    runtime = build_runtime(Settings(home=home), roles=frozenset({Role.PREDICTOR}))
    upgrade(runtime.engine)
    runtime.predictor.warm_load()
    predictor = runtime.predictor
    picks = np.random.default_rng(1).integers(0, len(ids), calls)

    def one(i: int) -> object:
        scorer = predictor.resident_scorer(ids[picks[i]])
        assert scorer is not None
        return scorer.score_one(float(i % 7), 1_700_000_000.0)

    samples = timed(one, calls)
    runtime.engine.dispose()
    return samples


def seed_pyfunc(home: Path, series: str, calls: int) -> list[float]:
    import mlflow
    import pandas as pd

    uri = f"sqlite:///{home.resolve() / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model = mlflow.pyfunc.load_model(f"models:/anomaly-detector-{series}@production")
    return timed(
        lambda i: model.predict(pd.DataFrame({"timestamp": [0.0], "value": [float(i % 7)]})),
        calls,
    )


def over_http(home: Path, ids: list[str], calls: int) -> tuple[list[float], list[float]]:
    port = free_port()
    env = {"SERIESGUARD_HOME": str(home), "SERIESGUARD_LOG_LEVEL": "INFO"}
    server = ServerProcess.start(
        ["-m", "seriesguard", "predictor", "--port", str(port)],
        env=env,
        port=port,
        log=home / "predictor.log",
        workers=1,
    )
    picks = np.random.default_rng(2).integers(0, len(ids), calls)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            predict = timed(
                lambda i: http.post(
                    f"/api/v1/predict/{ids[picks[i]]}",
                    json={"timestamp": 1_700_000_000 + i, "value": float(i % 7)},
                ),
                calls,
            )
            bare = timed(lambda _i: http.get("/api/v1/liveness"), calls)
    finally:
        server.stop()
    return predict, bare


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=5000)
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        ids = build_fleet(home, args.series)
        local = percentiles_us(in_process(home, ids, args.calls))
        seed = percentiles_us(seed_pyfunc(home, ids[0], min(args.calls, 2000)))
        http_predict, http_bare = (percentiles_us(s) for s in over_http(home, ids, args.calls))
    where = f"{args.series:,} series, random"
    publish(
        "predict",
        [
            Figure(
                id="predict.in_process_p50_us",
                title=f"in process: lookup + score, p50 ({where})",
                value=local[0],
                unit="us",
                baseline=seed[0],
                baseline_label="seed path: cached mlflow.pyfunc model, predict on a 1-row frame",
                notes=f"p99 {local[1]:.1f} us (seed path p99 {seed[1]:.0f} us)",
            ),
            Figure(
                id="predict.http_light_load_p50_ms",
                title="HTTP single predict, one client at a time, p50",
                value=http_predict[0] / 1000,
                unit="ms",
                baseline=http_bare[0] / 1000,
                baseline_label="bare liveness endpoint, same server",
                notes=f"p99 {http_predict[1] / 1e3:.2f} ms (bare p99 {http_bare[1] / 1e3:.2f} ms)",
            ),
        ],
    )


if __name__ == "__main__":
    main()
