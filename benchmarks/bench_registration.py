"""Registering one trained model: the seed's MLflow path vs ``MlflowRegistry.register``.

(a) seed: inside ``mlflow.start_run()``: ``log_params``, ``log_metrics``,
    ``mlflow.sklearn.log_model(sk_model=..., name="model", registered_model_name=...)`` for a
    tiny sklearn z-score estimator, then ``transition_model_version_stage(..., "Staging")``;
(b) ours: ``MlflowRegistry.register`` (run + params/metrics + pyfunc artifact + version in
    Staging + alias), for a new series each time and for new versions of one series.

Each path gets a fresh SQLite store in a temp folder; the first call of each (imports, store
creation) is reported apart and not counted. Prints a table, then one JSON line.

    .venv/bin/python benchmarks/bench_registration.py [--n 30] [--seed-n 5]
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

HERE = Path(__file__).resolve().parent


class ZScoreEstimator(BaseEstimator):  # type: ignore[misc]
    """The seed's model: mean/std of the training values, |x - mean| / std > threshold."""

    def __init__(self, threshold_sigma: float = 3.0) -> None:
        self.threshold_sigma = threshold_sigma

    def fit(self, X: Any, y: Any = None) -> ZScoreEstimator:
        values = np.asarray(X, dtype=np.float64).ravel()
        self.mean_ = float(values.mean())
        self.std_ = float(values.std())
        return self

    def predict(self, X: Any) -> Any:
        values = np.asarray(X, dtype=np.float64).ravel()
        return np.abs(values - self.mean_) / self.std_ > self.threshold_sigma


def timed(action: Callable[[int], object], count: int) -> tuple[float, list[float]]:
    """(first call in ms, the next ``count`` calls in ms)."""
    start = time.perf_counter()
    action(0)
    first = (time.perf_counter() - start) * 1000
    samples = []
    for index in range(1, count + 1):
        start = time.perf_counter()
        action(index)
        samples.append((time.perf_counter() - start) * 1000)
    return first, samples


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(samples), 1),
        "p95": round(float(np.percentile(samples, 95)), 1),
        "n": len(samples),
    }


def seed_path(folder: Path, count: int, values: np.ndarray) -> tuple[float, list[float]]:
    import mlflow
    import mlflow.sklearn
    from mlflow.tracking import MlflowClient

    # MLflow infers requirements by loading the model in a subprocess: the estimator must be
    # importable there, as the seed worker's model class would be.
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p
    )
    estimator_class = importlib.import_module("bench_registration").ZScoreEstimator
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("seed", artifact_location=(folder / "art").as_uri())
    mlflow.set_experiment(experiment_id=experiment)
    model = estimator_class().fit(values)

    def register(index: int) -> None:
        name = f"anomaly-detector-seed-{index}"
        with mlflow.start_run():
            mlflow.log_params({"algorithm": "statistical", "threshold_sigma": 3.0})
            mlflow.log_metrics(
                {"mean": model.mean_, "std": model.std_, "training_points": len(values)}
            )
            info = mlflow.sklearn.log_model(
                sk_model=model,
                name="model",
                registered_model_name=name,
                skops_trusted_types=["bench_registration.ZScoreEstimator"],
            )
        client.transition_model_version_stage(name, info.registered_model_version, "Staging")

    return timed(register, count)


def adapter_path(
    folder: Path, count: int, values: np.ndarray, *, same_series: bool
) -> tuple[float, list[float]]:
    from seriesguard.core.detectors import ZScoreDetector
    from seriesguard.registry.base import TrainingRecord
    from seriesguard.registry.mlflow_registry import MlflowRegistry

    registry = MlflowRegistry(
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        artifact_root=(folder / "art").as_uri(),
        experiment_name="seriesguard",
    )
    detector = ZScoreDetector.fit(values, np.arange(values.size, dtype=np.float64), {})

    def register(index: int) -> None:
        registry.register(
            TrainingRecord(
                series_id="retrained" if same_series and index else f"sensor-{index}",
                job_id=f"job-{index}",
                detector=detector,
                metrics={"mean": detector.mean, "std": detector.std, "training_points": 10_000},
                params={"algorithm": "statistical", "threshold_sigma": "3.0"},
            )
        )

    return timed(register, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30, help="registrations timed for ours")
    parser.add_argument("--seed-n", type=int, default=5, help="registrations timed, seed path")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    values = np.random.default_rng(0).normal(20.0, 2.0, 10_000)

    results: dict[str, tuple[float, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-registration-") as root:
        for label, run in (
            ("seed", lambda f: seed_path(f, args.seed_n, values)),
            ("ours_new_series", lambda f: adapter_path(f, args.n, values, same_series=False)),
            ("ours_retrain", lambda f: adapter_path(f, args.n, values, same_series=True)),
        ):
            folder = Path(root) / label
            folder.mkdir()
            results[label] = run(folder)

    figures = {label: summary(samples) for label, (_, samples) in results.items()}
    ratio = figures["seed"]["median"] / figures["ours_new_series"]["median"]
    print(f"{'path':18s} {'first call':>11s} {'median':>9s} {'p95':>9s}  (ms per version, SQLite)")
    for label, (first, _) in results.items():
        row = figures[label]
        print(f"{label:18s} {first:11.0f} {row['median']:9.1f} {row['p95']:9.1f}  n={row['n']}")
    print(f"seed / ours (median, new series): {ratio:.0f}x")
    line = {
        "benchmark": "registration",
        "backend": "sqlite",
        "ms_per_version": figures,
        "first_call_ms": {label: round(first) for label, (first, _) in results.items()},
        "ratio_median": round(ratio, 1),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
