"""Build a fleet of production models for a benchmark, through ``seriesguard models import``.

    build_fleet(home, 285_000)  # -> series ids; the home serves `seriesguard predictor --home`

Series are named like the seed's fleet (95,000 sensors x 3 axes): ``sensor-00042.y``. Each
model is the seed's z-score with its own mean and std. Growing a home that already holds the
first k series imports only the rest, so a scaling run pays for each model once.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np

AXES = "xyz"


def series_ids(n: int) -> list[str]:
    return [f"sensor-{i // 3:05d}.{AXES[i % 3]}" for i in range(n)]


def write_import_file(
    path: Path, *, start: int, stop: int, seed: int = 0, centred: bool = False
) -> None:
    """Models ``start``..``stop`` of the fleet as an import file (JSON Lines). ``centred``:
    means near 0 and stds near 1.5, so loadgen's values (N(0, 1.5)) look like each series'
    own data and a percent or so of them are anomalies, as in real traffic."""
    rng = np.random.default_rng(seed + start)
    if centred:
        means = rng.normal(0.0, 0.2, stop - start)
        stds = rng.uniform(1.4, 1.6, stop - start)
    else:
        means = rng.normal(50.0, 20.0, stop - start)
        stds = rng.uniform(0.5, 5.0, stop - start)
    ids = series_ids(stop)[start:]
    with path.open("w") as out:
        for series, mean, std in zip(ids, means, stds, strict=True):
            params = {"mean": float(mean), "std": float(std), "threshold_sigma": 3.0}
            record = {"series_id": series, "params": params, "reference": reference(mean, std)}
            out.write(json.dumps(record) + "\n")


# Deciles of the standard normal: a trained z-score model's reference histogram has its
# edges there (in units of its own mean and std), a tenth of the training points per bin.
NORMAL_DECILES = (-1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816)


def reference(mean: float, std: float) -> dict[str, object]:
    """The reference histogram a model trained on 10,000 normal points would carry."""
    return {
        "edges": [float(mean + std * z) for z in NORMAL_DECILES],
        "counts": [1000] * 10,
        "n_points": 10_000,
        "anomaly_rate": 0.0027,
    }


class Quiet:
    """Progress of an import, printed every 50,000 models."""

    def __init__(self) -> None:
        self._done = 0

    def phase(self, description: str, total: int | None) -> None:
        self._total = total

    def advance(self, done: int) -> None:
        before, self._done = self._done, self._done + done
        if self._done // 50_000 > before // 50_000:
            print(f"  imported {self._done:,} / {self._total or 0:,}", flush=True)


def fleet_size(home: Path) -> int:
    marker = home / "fleet-size"
    return int(marker.read_text()) if marker.exists() else 0


def build_fleet(home: Path, n: int, *, seed: int = 0, centred: bool = False) -> list[str]:
    """Grow ``home``'s fleet to ``n`` production models (import of the missing ones)."""
    from seriesguard.model_import.runner import run_import
    from seriesguard.settings import Settings

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    have = fleet_size(home)
    if have < n:
        home.mkdir(parents=True, exist_ok=True)
        source = home / f"import-{have}-{n}.jsonl"
        write_import_file(source, start=have, stop=n, seed=seed, centred=centred)
        started = time.perf_counter()
        report = run_import(
            settings=Settings(home=home),
            path=source,
            stage_name="production",
            default_algorithm="statistical",
            chunk_size=5000,
            progress=Quiet(),
        )
        source.unlink()
        seconds = time.perf_counter() - started
        print(
            f"  fleet {have:,} -> {n:,}: {report.imported:,} imported in {seconds:.1f} s "
            f"({report.imported / seconds:,.0f} models/s)",
            flush=True,
        )
        (home / "fleet-size").write_text(str(n))
        (home / "fleet-import-seconds").write_text(f"{seconds:.3f}")
    return series_ids(n)
