"""Registering one trained model: the seed's MLflow path vs ``MlflowRegistry.register``.

(a) seed: inside ``mlflow.start_run()``: ``log_params``, ``log_metrics``,
    ``mlflow.sklearn.log_model(sk_model=..., name="model", registered_model_name=...)`` for a
    tiny sklearn z-score estimator, then ``transition_model_version_stage(..., "Staging")``;
(b) ours: ``MlflowRegistry.register`` (run + params/metrics + pyfunc artifact + version in
    Staging + alias), for a new series each time and for new versions of one series.

(c) ours without MLflow runs (``SERIESGUARD_MLFLOW_LOG_RUNS=false``): the version straight from
    its model files, params and metrics on the version's tags.

Each path gets a fresh SQLite store in a temp folder; the first call of each (imports, store
creation) is reported apart and not counted. Publishes ``registration.*`` figures (median ms
per version, baseline the seed path's median in the same run) through ``results.py``.

    .venv/bin/python benchmarks/bench_registration.py [--n 30] [--seed-n 5]
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.results import Figure, publish

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
    folder: Path, count: int, values: np.ndarray, *, same_series: bool, log_runs: bool = True
) -> tuple[float, list[float]]:
    from seriesguard.core.detectors import ZScoreDetector
    from seriesguard.registry.base import TrainingRecord
    from seriesguard.registry.mlflow_registry import MlflowRegistry

    registry = MlflowRegistry(
        tracking_uri=f"sqlite:///{folder / 'mlflow.db'}",
        artifact_root=(folder / "art").as_uri(),
        experiment_name="seriesguard",
        log_runs=log_runs,
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
                first_attempt=True,  # as a worker's first try: no look-up of an earlier one
                new_series=not (same_series and index),
            )
        )

    return timed(register, count)


WITH_RUN = "MLflow run + pyfunc model + version in Staging + alias"
PATHS: dict[str, tuple[str, str]] = {  # label -> (figure id, title)
    "ours_new_series": (
        "registration.new_series",
        f"registering a version of a new series ({WITH_RUN}), SQLite",
    ),
    "ours_retrain": (
        "registration.retrain",
        f"registering a new version of an existing series ({WITH_RUN}), SQLite",
    ),
    "ours_no_runs": (
        "registration.new_series_no_runs",
        "same for a new series without an MLflow run (SERIESGUARD_MLFLOW_LOG_RUNS=false)",
    ),
}


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
            (
                "ours_no_runs",
                lambda f: adapter_path(f, args.n, values, same_series=False, log_runs=False),
            ),
        ):
            folder = Path(root) / label
            folder.mkdir()
            results[label] = run(folder)
    publish("registration", figures(results))


def figures(results: dict[str, tuple[float, list[float]]]) -> list[Figure]:
    seed_first, seed = results["seed"]
    out = []
    for label, (figure_id, title) in PATHS.items():
        first, samples = results[label]
        out.append(
            Figure(
                id=figure_id,
                title=title,
                value=statistics.median(samples),
                unit="ms",
                baseline=statistics.median(seed),
                baseline_label="seed path: mlflow.sklearn.log_model(registered_model_name=...) "
                "+ transition_model_version_stage",
                extra={
                    **summary(samples),
                    "first_call_ms": round(first),
                    "seed": {**summary(seed), "first_call_ms": round(seed_first)},
                },
            )
        )
    return out


if __name__ == "__main__":
    main()
