"""``GET /metrics`` of the real app: requests counted by route template and exact status,
the fast path included, and no token needed when authentication is on."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.catalog import catalog_with

from seriesguard.api.app import create_app, serving_app
from seriesguard.runtime import Role, build_runtime
from seriesguard.settings import Settings

PREDICT = "/api/v1/predict/{series_id}"


def requests_counted(client: TestClient) -> dict[tuple[str, str, str], float]:
    """``{(route, method, status): count}`` from ``/metrics``."""
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    return {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
        if s.name == "http_requests_total"
    }


def settings_for(home: Path) -> Settings:
    return Settings(home=home, mlflow_tracking_uri="memory://", training_min_interval_seconds=0)


def test_requests_are_counted_by_route_template_and_status(tmp_path: Path) -> None:
    with TestClient(create_app(build_runtime(settings_for(tmp_path)))) as client:
        for _ in range(3):
            assert client.get("/api/v1/liveness").status_code == 200
        for series in ("a-1", "a-2"):  # no model: the statistical fallback answers
            client.post(f"/api/v1/predict/{series}", json={"timestamp": 0, "value": 1.0})
        client.post("/api/v1/predict/a-3", json={"timestamp": "never", "value": 1.0})
        assert client.get("/no/such/path").status_code == 404
        counted = requests_counted(client)
    assert counted[("/api/v1/liveness", "GET", "200")] == 3
    assert counted[(PREDICT, "POST", "200")] == 2
    assert counted[(PREDICT, "POST", "422")] == 1
    assert counted[("unmatched", "GET", "404")] == 1
    assert not [route for route, _m, _s in counted if "a-1" in route or "/no/" in route]


def test_metrics_needs_no_token_and_a_refused_request_is_counted(secured: TestClient) -> None:
    assert secured.get("/api/v1/training/jobs").status_code == 401
    answer = secured.get("/metrics")
    assert answer.status_code == 200, answer.text
    counted = requests_counted(secured)
    assert counted[("unmatched", "GET", "401")] == 1  # refused before routing
    assert counted[("/metrics", "GET", "200")] >= 1


def test_openmetrics_is_answered_when_asked(tmp_path: Path) -> None:
    with TestClient(create_app(build_runtime(settings_for(tmp_path)))) as client:
        answer = client.get("/metrics", headers={"accept": "application/openmetrics-text"})
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")


def test_the_predict_fast_path_is_counted_under_the_route_template(tmp_path: Path) -> None:
    series = [f"f-{i}" for i in range(4)]
    catalog_with(tmp_path, series)
    runtime = build_runtime(settings_for(tmp_path), roles=frozenset({Role.PREDICTOR}))
    with TestClient(serving_app(runtime)) as client:
        for name in series:
            answer = client.post(f"/api/v1/predict/{name}", json={"timestamp": 0, "value": 4})
            assert answer.status_code == 200, answer.text
        counted = requests_counted(client)
    assert counted[(PREDICT, "POST", "200")] == len(series)
    assert runtime.metrics.cache_hits.samples()[0][1] >= len(series)
