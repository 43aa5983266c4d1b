"""The data the dashboard is shown: NAB series trained, promoted and served through the real
API, plus an imported fleet large enough to page through.

NAB's clocks are years old; every slice is moved so its last served point lies a minute
before now, so the served points fall inside the history retention and the metrics window
(the values and their spacing are NAB's own).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from tests.conftest import nab_series, nab_windows
from tests.e2e.harness import wait_job

# Small training sets, quick flushes and a scheduler that looks at rollouts twice a second,
# so a seed takes seconds and a canary step can pass while a test watches.
SERVER_ENV = {
    "SERIESGUARD_MIN_TRAINING_POINTS": "500",
    "SERIESGUARD_STATS_FLUSH_SECONDS": "0.5",
    "SERIESGUARD_HISTORY_FLUSH_SECONDS": "0.5",
    "SERIESGUARD_PROMOTION_CHECK_SECONDS": "0.5",
    "SERIESGUARD_CANARY_MIN_REQUESTS": "20",
    # the tests change the fleet and look at it at once: no snapshot of the fleet's counts
    "SERIESGUARD_FLEET_OVERVIEW_MAX_AGE_SECONDS": "0",
}
SIGMA_3 = {"algorithm": "statistical", "hyperparameters": {"threshold_sigma": 3.0}}
SIGMA_2_5 = {"algorithm": "statistical", "hyperparameters": {"threshold_sigma": 2.5}}

# Series ids of the fleet the importer writes (Production, one version each): "pump-000" ...
FLEET_SIZE = 130
FLEET_PREFIX = "pump-"
FLEET_SOURCE = "realKnownCause/nyc_taxi"
RECENT_POINTS = 500  # the recent points plot-data answers by default


@dataclass(frozen=True)
class NabSlice:
    series_id: str
    source: str  # NAB file, relative to data/, without .csv
    trained: int  # the first points, the training set of every version
    served: int  # the points after them, sent as predictions


# machine-temp: v1 Production, v2 Staging; its served points hold a labelled failure window.
MACHINE = NabSlice("machine-temp", "realKnownCause/machine_temperature_system_failure", 3000, 1100)
# ambient-temp: v1 Production, v2 Staging (the canary's challenger).
AMBIENT = NabSlice("ambient-temp", "realKnownCause/ambient_temperature_system_failure", 3000, 300)
# cpu-asg: v1 Production only.
CPU = NabSlice("cpu-asg", "realKnownCause/cpu_utilization_asg_misconfiguration", 3000, 300)
# rds-cpu: v1 Staging only (a series without a Production version).
LATENCY = NabSlice("rds-cpu", "realAWSCloudwatch/rds_cpu_utilization_cc0c53", 1500, 0)
TRAINED = (MACHINE, AMBIENT, CPU, LATENCY)


@dataclass(frozen=True)
class Points:
    timestamps: np.ndarray  # epoch seconds, moved to end a minute before now
    values: np.ndarray
    windows: list[tuple[float, float]]  # NAB's labelled anomaly windows, moved the same


def load(piece: NabSlice) -> Points:
    """The slice's trained and served points, on today's clock."""
    texts, values = nab_series(piece.source)
    original = np.asarray([_epoch(t) for t in texts[: piece.trained + piece.served]])
    shift = time.time() - 60 - original[-1]
    windows = [(_epoch(a) + shift, _epoch(b) + shift) for a, b in nab_windows(piece.source)]
    return Points(original + shift, values[: piece.trained + piece.served], windows)


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def import_fleet(home: Path, *, size: int = FLEET_SIZE) -> list[str]:
    """``seriesguard models import`` of ``size`` z-score models, each fitted on a day of
    NAB's taxi counts, into ``home`` (run before the server starts); returns their ids."""
    _, values = nab_series(FLEET_SOURCE)
    days = values[: (len(values) // 48) * 48].reshape(-1, 48)  # half-hourly: 48 a day
    records = []
    for index in range(size):
        day = days[index % len(days)]
        params = {"mean": float(day.mean()), "std": float(day.std()), "threshold_sigma": 3.0}
        records.append({"series_id": f"{FLEET_PREFIX}{index:03d}", "params": params})
    source = home / "fleet.jsonl"
    home.mkdir(parents=True, exist_ok=True)
    source.write_text("".join(json.dumps(r) + "\n" for r in records))
    done = subprocess.run(
        [sys.executable, "-m", "seriesguard", "models", "import", str(source), "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "SERIESGUARD_LOG_LEVEL": "WARNING"},
    )
    assert done.returncode == 0, done.stderr
    return [r["series_id"] for r in records]


def train(http: httpx.Client, piece: NabSlice, points: Points, config: dict[str, Any]) -> str:
    """A version of ``piece`` fitted on its training points; returns "v1", "v2", ..."""
    answer = http.post(
        f"/api/v1/training/{piece.series_id}",
        json={
            "timestamps": points.timestamps[: piece.trained].tolist(),
            "values": points.values[: piece.trained].tolist(),
            "config": config,
        },
    )
    assert answer.status_code == 202, answer.text
    done = wait_job(http, answer.json()["job_id"])
    assert done["status"] == "completed", done
    return str(done["model_version"])


def promote(http: httpx.Client, series_id: str, version: str) -> None:
    answer = http.post(
        f"/api/v1/models/{series_id}/versions/{version}/promote", json={"strategy": "direct"}
    )
    assert answer.status_code == 200, answer.text


def serve(http: httpx.Client, piece: NabSlice, points: Points) -> None:
    """The served points as one batch predict: statistics, history and anomalies exist."""
    if not piece.served:
        return
    answer = http.post(
        "/api/v1/predict/batch",
        json={
            "series": [
                {
                    "series_id": piece.series_id,
                    "timestamps": points.timestamps[piece.trained :].tolist(),
                    "values": points.values[piece.trained :].tolist(),
                }
            ]
        },
    )
    assert answer.status_code == 200, answer.text


def wait_stored(http: httpx.Client, piece: NabSlice, *, timeout: float = 30) -> None:
    """Until the served points are counted in the metrics and kept in the history (both are
    written by flushers, every half second here)."""
    shown = min(piece.served, RECENT_POINTS)
    deadline = time.monotonic() + timeout
    while True:
        metrics = http.get(f"/api/v1/models/{piece.series_id}/metrics").json()
        plot = http.get(f"/api/v1/models/{piece.series_id}/plot-data").json()
        recent = len((plot.get("recent") or {}).get("timestamps") or [])
        if metrics["requests"] >= piece.served and recent >= shown:
            return
        assert time.monotonic() < deadline, (piece.series_id, metrics["requests"], recent)
        time.sleep(0.2)


def send_ground_truth(http: httpx.Client, piece: NabSlice, points: Points) -> None:
    """NAB's labels of the served points (inside a window = an anomaly) as feedback. Only the
    labels of the metrics window (24 h) count; the slice ends inside a failure window, after
    the points the model flags, so precision and recall both have a value."""
    served = points.timestamps[piece.trained :]
    labels = [
        {"timestamp": float(t), "is_anomaly": any(a <= t <= b for a, b in points.windows)}
        for t in served
    ]
    sent = http.post(f"/api/v1/feedback/{piece.series_id}", json=labels)
    assert sent.status_code == 200, sent.text
    quality = http.get(f"/api/v1/models/{piece.series_id}/metrics").json()["quality"]
    assert quality["tp"] > 0 and quality["precision"] is not None, quality


@dataclass(frozen=True)
class Seeded:
    fleet: list[str]  # imported series ids
    points: dict[str, Points]  # trained series id -> its points


def seed(http: httpx.Client, fleet: list[str]) -> Seeded:
    """Train and serve the NAB series; ``fleet`` was imported before the server started."""
    points = {piece.series_id: load(piece) for piece in TRAINED}
    for piece in (MACHINE, AMBIENT, CPU):
        version = train(http, piece, points[piece.series_id], SIGMA_3)
        promote(http, piece.series_id, version)
    for piece in (MACHINE, AMBIENT):
        train(http, piece, points[piece.series_id], SIGMA_2_5)
    train(http, LATENCY, points[LATENCY.series_id], SIGMA_3)
    for piece in TRAINED:
        serve(http, piece, points[piece.series_id])
    for piece in TRAINED:
        if piece.served:
            wait_stored(http, piece)
    send_ground_truth(http, MACHINE, points[MACHINE.series_id])
    return Seeded(fleet=fleet, points=points)
