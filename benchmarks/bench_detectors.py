"""Scoring one live point: ``score_one`` of every detector in the catalogue, in µs per point.

Each algorithm is fitted on the same 2,000 points of a noisy sine (a daily cycle sampled every
5 minutes, amplitude 10, Gaussian noise 0.5) with its default hyperparameters, then scores the
``--points`` points that follow, one ``score_one`` call each, in time order (so a stateful
detector advances its live state as the predictor's hot path does). The figure is the median
over ``--repeats`` passes of (pass time / points); the baseline is the z-score (``statistical``)
measured in the same run. Target: the issue's "under 1 ms" per point.

    .venv/bin/python benchmarks/bench_detectors.py [--points 20000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.results import Figure, publish

from seriesguard.core.detectors import ALGORITHMS, Detector, detector_class

BASELINE = "statistical"
STEP = 300.0
DAY = 86_400.0
TARGET_US = 1_000.0


def noisy_sine(n: int, *, start: int = 0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    ts = 1_767_225_600.0 + STEP * np.arange(start, start + n, dtype=np.float64)
    noise = np.random.default_rng(seed).normal(0.0, 0.5, n)
    return 20.0 + 10.0 * np.sin(2 * np.pi * ts / DAY) + noise, ts


def us_per_point(detector: Detector, values: list[float], ts: list[float]) -> float:
    score_one = detector.score_one
    started = time.perf_counter()
    for value, timestamp in zip(values, ts, strict=True):
        score_one(value, timestamp)
    return (time.perf_counter() - started) / len(values) * 1e6


def measure(algorithm: str, points: int, repeats: int) -> tuple[float, int]:
    """Median µs per point over ``repeats`` fresh fits, and the model's size in bytes."""
    train_values, train_ts = noisy_sine(2_000)
    values, ts = noisy_sine(points, start=2_000, seed=1)
    samples, size = [], 0
    for _ in range(repeats):  # a fresh model each pass: the live state starts where it was fit
        detector = detector_class(algorithm).fit(train_values, train_ts, {})
        size = len(detector.to_bytes())
        samples.append(us_per_point(detector, values.tolist(), ts.tolist()))
    return statistics.median(samples), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    algorithms = [a for a in sorted(ALGORITHMS) if a != "zscore"]  # an alias of statistical
    measured = {a: measure(a, args.points, args.repeats) for a in algorithms}
    baseline = measured[BASELINE][0]
    figures = [
        Figure(
            id=f"detectors.score_one_{algorithm}",
            title=f"score_one, {algorithm} (per point, fitted on 2,000 points)",
            value=round(us, 3),
            unit="µs",
            baseline=None if algorithm == BASELINE else round(baseline, 3),
            baseline_label=None if algorithm == BASELINE else "z-score, same run",
            target=TARGET_US,
            target_label="< 1 ms per point",
            notes=f"model {size:,} bytes as JSON; {args.points:,} points x {args.repeats} passes",
            extra={"model_bytes": size, "stateful": ALGORITHMS[algorithm].stateful},
        )
        for algorithm, (us, size) in measured.items()
    ]
    publish("detectors", figures)


if __name__ == "__main__":
    main()
