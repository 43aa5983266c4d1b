"""Two predictor processes (two pods) serving one series: the API's per-series metrics are
the sum of both, each process having written its own rows."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from seriesguard.settings import Settings
from seriesguard.store.db import create_db_engine
from tests.e2e.harness import Server

pytestmark = pytest.mark.e2e

REFERENCE = {
    "edges": [-1.28, -0.84, -0.52, -0.25, 0.0, 0.25, 0.52, 0.84, 1.28],
    "counts": [1000] * 10,
    "n_points": 10_000,
    "anomaly_rate": 0.0027,
}


def import_model(home: Path) -> None:
    source = home / "models.jsonl"
    record = {
        "series_id": "press-1.x",
        "params": {"mean": 0.0, "std": 1.0, "threshold_sigma": 3.0},
        "reference": REFERENCE,
    }
    source.write_text(json.dumps(record) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "seriesguard", "models", "import", str(source), "--home", str(home)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "SERIESGUARD_LOG_LEVEL": "WARNING"},
    )
    assert done.returncode == 0, done.stderr


def send(url: str, count: int, *, first: int) -> int:
    """``count`` predicts, every tenth far out; returns how many were flagged."""
    flagged = 0
    with httpx.Client(base_url=url, timeout=10) as http:
        for index in range(first, first + count):
            value = 8.0 if index % 10 == 0 else 0.1
            answer = http.post(
                "/api/v1/predict/press-1.x", json={"timestamp": 1e9 + index, "value": value}
            )
            assert answer.status_code == 200, answer.text
            flagged += answer.json()["anomaly"]
    return flagged


def test_the_metrics_endpoint_sums_the_rows_of_two_predictors(tmp_path: Path) -> None:
    import_model(tmp_path)
    fast_flush = {"SERIESGUARD_STATS_FLUSH_SECONDS": "0.5"}
    pods = [
        Server(home=tmp_path, command=("predictor",), name=f"pod-{n}", env=fast_flush)
        for n in ("a", "b")
    ]
    api = Server(home=tmp_path, command=("api",), name="api")
    try:
        for pod in pods:
            pod.start()
        flagged = send(pods[0].url, 150, first=0) + send(pods[1].url, 250, first=150)
        assert flagged == 40
        api.start()
        deadline = time.monotonic() + 30
        while True:
            with httpx.Client(base_url=api.url, timeout=10) as http:
                metrics = http.get("/api/v1/models/press-1.x/metrics").json()
            if metrics.get("requests") == 400 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    finally:
        for server in (*pods, api):
            server.stop()
    assert (metrics["requests"], metrics["anomalies"], metrics["errors"]) == (400, 40, 0)
    assert metrics["anomaly_rate"] == pytest.approx(0.1)
    (version,) = metrics["versions"]
    assert version["version"] == 1 and version["requests"] == 400
    drift = metrics["drift_detection"]
    assert drift["reference"]["n_points"] == 10_000  # the imported reference is used
    assert drift["data_drift"]["reason"] == "insufficient_data"  # 400 < the 500 needed
    engine = create_db_engine(Settings(home=tmp_path).resolved_database_url())
    with engine.connect() as connection:
        sources = connection.execute(
            text("SELECT source, SUM(requests) FROM series_stats GROUP BY source ORDER BY 2")
        ).all()
    engine.dispose()
    assert [int(total) for _, total in sources] == [150, 250]  # one row set per process
