"""One prediction and one training job traced through the real app, exported over OTLP to a
collector in the test: the seed's span names, one trace each, parents linked."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from tests.otlp_collector import CollectedSpan, OtlpCollector

from seriesguard.api.app import serving_app
from seriesguard.runtime import build_runtime
from seriesguard.settings import Settings


def by_name(spans: list[CollectedSpan], trace_id: str) -> dict[str, CollectedSpan]:
    return {span.name: span for span in spans if span.trace_id == trace_id}


def test_a_prediction_and_a_training_job_are_traced_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    with OtlpCollector() as collector:
        settings = Settings(
            home=tmp_path,
            mlflow_tracking_uri="memory://",
            training_min_interval_seconds=0,
            otel_exporter_otlp_endpoint=collector.endpoint,
        )
        runtime = build_runtime(settings)
        assert runtime.tracing.enabled
        values = np.random.default_rng(0).normal(0, 1, 10_000)
        with TestClient(serving_app(runtime)) as client:
            job = client.post(
                "/api/v1/training/t1",
                json={"timestamps": list(range(values.size)), "values": values.tolist()},
            )
            assert job.status_code == 202
            for _ in range(400):
                if client.get(job.headers["location"]).json()["status"] == "completed":
                    break
                time.sleep(0.025)
            client.post("/api/v1/models/t1/versions/1/promote", json={})
            runtime.predictor.poll_catalog()
            answer = client.post("/api/v1/predict/t1", json={"timestamp": 1, "value": 9.0})
            assert answer.json()["anomaly"] is True
        # leaving the client stopped the runtime, which flushed the exporter
        spans = collector.wait_for_names("predict", "training.job", "register").values()

    everything = collector.spans
    predict = next(s for s in everything if s.name == "predict")
    tree = by_name(everything, predict.trace_id)
    server = tree["POST /api/v1/predict/{series_id}"]
    assert (server.kind, server.parent_span_id) == ("server", None)
    assert predict.parent_span_id == server.span_id
    assert predict.attributes["series_id"] == "t1" and predict.attributes["anomaly"] is True
    assert tree["load_model"].parent_span_id == predict.span_id
    assert tree["inference"].parent_span_id == predict.span_id
    assert tree["load_model"].attributes["model_version"] == "v1"

    worker = next(s for s in everything if s.name == "training.job")
    tree = by_name(everything, worker.trace_id)
    api = tree["POST /api/v1/training/{series_id}"]
    publish = tree["queue.publish"]
    assert publish.parent_span_id == api.span_id and publish.kind == "producer"
    assert (worker.parent_span_id, worker.kind) == (publish.span_id, "consumer")
    for step in ("load_data", "fit", "register"):
        assert tree[step].parent_span_id == worker.span_id
    assert all(s.service_name == "seriesguard-api-predictor-worker" for s in spans)
