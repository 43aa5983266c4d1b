"""Per-series metrics, drift and ground truth through the real app: predictions go through
the predictor (fast path and batch), the statistics are flushed to the DB, the metrics
endpoint and the fleet check read them back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from seriesguard.api.app import serving_app
from seriesguard.runtime import Runtime, build_runtime
from seriesguard.settings import Settings

TRAINING_POINTS = 10_000
SERVED_POINTS = 5_000


@dataclass
class Served:
    client: TestClient
    runtime: Runtime

    def flush(self) -> None:
        assert self.runtime.monitoring_parts.flusher.flush()

    def metrics(self, series: str, window: str = "24h") -> dict[str, Any]:
        answer = self.client.get(f"/api/v1/models/{series}/metrics", params={"window": window})
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Served]:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    settings = Settings(
        home=tmp_path,
        mlflow_tracking_uri="memory://",
        training_min_interval_seconds=0,
        stats_flush_seconds=3600,  # flushed by the test, when it wants
    )
    runtime = build_runtime(settings)
    with TestClient(serving_app(runtime)) as client:
        yield Served(client, runtime)


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def train_and_promote(served: Served, series: str, values: np.ndarray) -> None:
    start = time.time() - 10 * 86_400
    body = {
        "timestamps": (start + np.arange(values.size)).tolist(),
        "values": values.tolist(),
        "config": {"algorithm": "statistical"},  # the rates below are the z-score's
    }
    job = served.client.post(f"/api/v1/training/{series}", json=body)
    assert job.status_code == 202, job.text
    for _ in range(400):
        state = served.client.get(job.headers["location"]).json()
        if state["status"] == "completed":
            break
        time.sleep(0.025)
    assert state["status"] == "completed", state
    promoted = served.client.post(f"/api/v1/models/{series}/versions/1/promote", json={})
    assert promoted.status_code == 200, promoted.text
    served.runtime.predictor.poll_catalog()


def predict_batch(served: Served, series: str, values: np.ndarray) -> list[bool]:
    now = time.time() - values.size
    body = {
        "series": [
            {
                "series_id": series,
                "timestamps": (now + np.arange(values.size)).tolist(),
                "values": values.tolist(),
            }
        ]
    }
    answer = served.client.post("/api/v1/predict/batch", json=body)
    assert answer.status_code == 200, answer.text
    return [bool(a) for a in answer.json()["results"][0]["anomalies"]]


def test_shifted_inputs_and_a_tripled_anomaly_rate_are_flagged_with_evidence(
    served: Served,
) -> None:
    rng = np.random.default_rng(7)
    training = rng.normal(0.0, 1.0, TRAINING_POINTS)
    for series in ("stable", "shifted", "tripled"):
        train_and_promote(served, series, training)
    baseline = served.runtime.catalog.get_version(series_id="stable", version=1)
    assert baseline is not None and baseline.reference is not None
    rate = baseline.reference.anomaly_rate
    assert 0.001 < rate < 0.006  # 3 sigma of normal data

    predict_batch(served, "stable", rng.normal(0.0, 1.0, SERVED_POINTS))
    predict_batch(served, "shifted", rng.normal(1.0, 1.0, SERVED_POINTS))
    tripled = rng.normal(0.0, 1.0, SERVED_POINTS).clip(-2.5, 2.5)
    outliers = round(3 * rate * SERVED_POINTS)
    tripled[:outliers] = np.where(np.arange(outliers) % 2 == 0, 5.0, -5.0)
    predict_batch(served, "tripled", rng.permutation(tripled))
    for index in range(20):  # single predicts (the fast path) count too
        one = served.client.post(
            "/api/v1/predict/stable", json={"timestamp": time.time() + index, "value": 0.1}
        )
        assert one.status_code == 200
    served.flush()

    stable = served.metrics("stable")
    assert stable["requests"] == SERVED_POINTS + 20
    assert stable["latency_ms"]["p99"] is not None and stable["request_rate"] > 0
    drift = stable["drift_detection"]
    assert drift["data_drift_detected"] is False and drift["concept_drift_detected"] is False
    assert drift["data_drift"]["reason"] == "stable"
    assert drift["data_drift"]["sample_size"] == SERVED_POINTS + 20

    shifted = served.metrics("shifted")["drift_detection"]
    assert shifted["data_drift_detected"] is True
    evidence = shifted["data_drift"]
    assert evidence["statistic"] > evidence["threshold"] == 0.2
    assert (evidence["sample_size"], evidence["reference_size"]) == (
        SERVED_POINTS,
        TRAINING_POINTS,
    )

    tripled_drift = served.metrics("tripled")["drift_detection"]
    assert tripled_drift["data_drift_detected"] is False
    assert tripled_drift["concept_drift_detected"] is True
    concept = tripled_drift["concept_drift"]
    assert concept["p_value"] < concept["threshold"] == 0.01
    assert concept["current_rate"] == pytest.approx(3 * rate, rel=0.1)
    assert concept["baseline_rate"] == pytest.approx(rate)

    run = served.runtime.drift_check.run(window_hours=24, triggered_by="test")
    assert (run.status, run.series_checked) == ("succeeded", 3)
    found = served.runtime.drift_runs.findings(run_id=run.id, limit=100)
    kinds = {(f.series_id, f.kind) for f in found}
    assert ("shifted", "data") in kinds and ("tripled", "concept") in kinds
    assert not any(series == "stable" for series, _ in kinds)
    assert ("tripled", "data") not in kinds
    listed = served.client.get("/api/v1/drift/runs").json()["items"]
    assert listed[0]["id"] == run.id and listed[0]["data_drifted"] >= 1

    # The same facts, fleet-wide and without series labels, on /metrics.
    scraped = samples(served.client.get("/metrics").text)
    assert scraped[("model_drift_detected_total", (("kind", "data"),))] == run.data_drifted
    assert scraped[("model_drift_detected_total", (("kind", "concept"),))] == run.concept_drifted
    predictions = sum(v for (name, _), v in scraped.items() if name == "anomaly_predictions_total")
    assert predictions == 3 * SERVED_POINTS + 20
    assert scraped[("training_jobs_total", (("outcome", "completed"),))] == 3
    assert scraped[("training_queue_depth", ())] == 0
    assert not any("series_id" in dict(labels) for _, labels in scraped)


def test_ground_truth_gives_the_hand_computed_precision_and_recall(served: Served) -> None:
    rng = np.random.default_rng(3)
    train_and_promote(served, "pump-7", rng.normal(50.0, 2.0, TRAINING_POINTS))
    start = time.time() - 600
    # Points 0-3 far out (flagged), 4-9 ordinary (not flagged).
    values = [90.0, 91.0, 92.0, 93.0, 50.0, 50.5, 49.5, 51.0, 50.2, 49.8]
    flagged = []
    for index, value in enumerate(values):
        answer = served.client.post(
            "/api/v1/predict/pump-7", json={"timestamp": start + index, "value": value}
        )
        flagged.append(answer.json()["anomaly"])
    assert flagged == [True] * 4 + [False] * 6
    served.flush()
    # Truth: 0-2 real (TP 3), 3 a false alarm (FP 1), 4-5 missed (FN 2), 6-9 normal (TN 4).
    truth = [True, True, True, False, True, True, False, False, False, False]
    labels = [{"timestamp": start + i, "is_anomaly": t} for i, t in enumerate(truth)]
    sent = served.client.post("/api/v1/feedback/pump-7", json=labels)
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"series_id": "pump-7", "accepted": 10, "version": 1}

    quality = served.metrics("pump-7")["versions"][0]["quality"]
    assert (quality["tp"], quality["fp"], quality["fn"], quality["tn"]) == (3, 1, 2, 4)
    assert quality["precision"] == pytest.approx(3 / 4)
    assert quality["recall"] == pytest.approx(3 / 5)
    assert quality["f1"] == pytest.approx(2 * 0.75 * 0.6 / (0.75 + 0.6))

    # A label sent again replaces the first: point 3 was a real anomaly after all.
    again = served.client.post(
        "/api/v1/feedback/pump-7", json={"timestamp": start + 3, "is_anomaly": True}
    )
    assert again.status_code == 200
    quality = served.metrics("pump-7")["quality"]
    assert (quality["tp"], quality["fp"]) == (4, 0)


def test_bad_feedback_and_windows_are_refused_with_the_rule_and_place(served: Served) -> None:
    rng = np.random.default_rng(1)
    train_and_promote(served, "s1", rng.normal(0.0, 1.0, TRAINING_POINTS))
    cases = [
        ([{"timestamp": 1, "is_anomaly": "yes"}], (1, "body", 0, "is_anomaly")),
        ([{"timestamp": "soon", "is_anomaly": True}], ("timestamp", "body", 0, "timestamp")),
        ({"timestamp": 1}, ("missing", "body", "is_anomaly")),
    ]
    for body, (_rule, *loc) in cases:
        answer = served.client.post("/api/v1/feedback/s1", json=body)
        assert answer.status_code == 422, answer.text
        assert loc in [d["loc"] for d in answer.json()["error"]["details"]], answer.text
    unknown = served.client.post(
        "/api/v1/feedback/ghost", json={"timestamp": 1, "is_anomaly": True}
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "series_not_found"
    for window, rule in (("24", "window_format"), ("0h", "window_range"), ("91d", "window_range")):
        answer = served.client.get("/api/v1/models/s1/metrics", params={"window": window})
        assert answer.status_code == 422
        assert answer.json()["error"]["code"] == rule
    assert served.client.get("/api/v1/models/ghost/metrics").status_code == 404
    assert served.metrics("s1", "7d")["window"] == "7d"
