"""Shared fixtures: paths to the shared NAB data and a fresh settings tree per test."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
NAB = REPO.parent / "shared" / "datasets" / "nab"


def nab_series(relative: str) -> tuple[list[str], np.ndarray]:
    """Timestamps (as text) and values of one NAB file, read from ../shared."""
    base = NAB / "data" / relative
    path = next((p for p in (base.with_suffix(".csv"), Path(f"{base}.csv.gz")) if p.exists()), None)
    if path is None:
        pytest.skip(f"NAB data not found at {base}.csv(.gz)")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        next(handle)
        rows = [line.strip().split(",") for line in handle if line.strip()]
    return [r[0] for r in rows], np.asarray([float(r[1]) for r in rows])


def nab_windows(relative: str) -> list[tuple[str, str]]:
    windows = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    return [(a, b) for a, b in windows[f"{relative}.csv"]]


@contextmanager
def fluent_mlflow_at(uri: str) -> Iterator[None]:
    """Point MLflow's fluent API at ``uri`` for a block; it exports MLFLOW_TRACKING_URI, so
    the previous value is put back for the tests (and servers) that follow."""
    import mlflow

    previous = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])
