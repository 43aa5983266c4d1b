"""Every rule, over HTTP: a 4xx whose body names the rule and the place. No 5xx anywhere."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.e2e.harness import wait_job

pytestmark = pytest.mark.e2e
N = 10_000
TS = [1_700_000_000 + 60 * i for i in range(N)]
VALUES = np.random.default_rng(5).normal(20, 2, N).tolist()


def body(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"timestamps": list(TS), "values": list(VALUES)}
    payload.update(changes)
    return payload


def replaced(seq: list[Any], index: int, value: Any) -> list[Any]:
    copy = list(seq)
    copy[index] = value
    return copy


TRAIN = "/api/v1/training/s1"
CASES: list[tuple[str, str, str, Any, int, str, list[Any]]] = [
    (
        "too_few",
        "POST",
        TRAIN,
        body(timestamps=TS[:9999], values=VALUES[:9999]),
        422,
        "min_points",
        ["body", "values"],
    ),
    (
        "too_many",
        "POST",
        TRAIN,
        body(timestamps=list(range(1, 100_002)), values=[float(i % 7) for i in range(100_001)]),
        422,
        "max_points",
        ["body", "values"],
    ),
    (
        "mismatch",
        "POST",
        TRAIN,
        body(values=VALUES[:-1]),
        422,
        "length_mismatch",
        ["body", "timestamps"],
    ),
    (
        "not_increasing",
        "POST",
        TRAIN,
        body(timestamps=replaced(TS, 50, 1)),
        422,
        "strictly_increasing",
        ["body", "timestamps", 50],
    ),
    (
        "duplicate",
        "POST",
        TRAIN,
        body(timestamps=replaced(TS, 51, TS[50])),
        422,
        "duplicate_timestamp",
        ["body", "timestamps", 51],
    ),
    (
        "infinite",
        "POST",
        TRAIN,
        body(values=replaced(VALUES, 7, "Infinity")),
        422,
        "finite_values",
        ["body", "values", 7],
    ),
    ("constant", "POST", TRAIN, body(values=[1.0] * N), 422, "min_std", ["body", "values"]),
    (
        "bad_timestamp",
        "POST",
        TRAIN,
        body(timestamps=replaced(TS, 3, "not a date")),
        422,
        "timestamp_format",
        ["body", "timestamps", 3],
    ),
    (
        "value_type",
        "POST",
        TRAIN,
        body(values=replaced(VALUES, 9, "abc")),
        422,
        "float_parsing",
        ["body", "values", 9],
    ),
    (
        "null_value",
        "POST",
        TRAIN,
        body(values=replaced(VALUES, 2, None)),
        422,
        "float_type",
        ["body", "values", 2],
    ),
    ("missing_values", "POST", TRAIN, {"timestamps": TS}, 422, "missing", ["body", "values"]),
    ("unknown_field", "POST", TRAIN, body(extra=1), 422, "extra_forbidden", ["body", "extra"]),
    ("empty_body", "POST", TRAIN, None, 422, "missing", ["body"]),
    (
        "unknown_algorithm",
        "POST",
        TRAIN,
        body(config={"algorithm": "prophet"}),
        422,
        "unknown_algorithm",
        ["body", "config", "algorithm"],
    ),
    (
        "bad_sigma",
        "POST",
        TRAIN,
        body(config={"algorithm": "statistical", "hyperparameters": {"threshold_sigma": 0}}),
        422,
        "hyperparameter_range",
        ["body", "config", "hyperparameters", "threshold_sigma"],
    ),
    (
        "bad_priority",
        "POST",
        TRAIN,
        body(config={"priority": 0}),
        422,
        "priority_range",
        ["body", "config", "priority"],
    ),
    (
        "bad_series_id",
        "POST",
        "/api/v1/training/_bad$id",
        body(),
        422,
        "series_id_pattern",
        ["path", "series_id"],
    ),
    (
        "unknown_job",
        "GET",
        "/api/v1/training/jobs/nope",
        None,
        404,
        "job_not_found",
        ["path", "job_id"],
    ),
    (
        "cancel_unknown_job",
        "DELETE",
        "/api/v1/training/jobs/nope",
        None,
        404,
        "job_not_found",
        ["path", "job_id"],
    ),
    (
        "bad_job_status",
        "GET",
        "/api/v1/training/jobs?status=dancing",
        None,
        422,
        "job_status",
        ["query", "status"],
    ),
    (
        "unknown_series",
        "GET",
        "/api/v1/models/ghost",
        None,
        404,
        "series_not_found",
        ["path", "series_id"],
    ),
    (
        "bad_version",
        "POST",
        "/api/v1/models/ghost/versions/vX/promote",
        {"strategy": "direct"},
        422,
        "version_format",
        ["path", "version"],
    ),
    (
        "promote_missing_version",
        "POST",
        "/api/v1/models/ghost/versions/v3/promote",
        {"strategy": "direct"},
        404,
        "version_not_found",
        ["path", "version"],
    ),
    (
        "bad_strategy",
        "POST",
        "/api/v1/models/ghost/versions/1/promote",
        {"strategy": "yolo"},
        422,
        "literal_error",
        ["body", "strategy"],
    ),
    (
        "canary_missing_version",
        "POST",
        "/api/v1/models/ghost/versions/1/promote",
        {"strategy": "canary"},
        404,
        "version_not_found",
        ["path", "version"],
    ),
    (
        "canary_bad_config",
        "POST",
        "/api/v1/models/ghost/versions/1/promote",
        {"strategy": "canary", "canary_config": {"initial_percentage": 101}},
        422,
        "percentage_range",
        ["body", "canary_config", "initial_percentage"],
    ),
    (
        "predict_value_type",
        "POST",
        "/api/v1/predict/s1",
        {"timestamp": 1, "value": "hot"},
        422,
        "float_parsing",
        ["body", "value"],
    ),
    (
        "predict_nan",
        "POST",
        "/api/v1/predict/s1",
        {"timestamp": 1, "value": "NaN"},
        422,
        "finite_values",
        ["body", "value"],
    ),
    (
        "predict_bad_time",
        "POST",
        "/api/v1/predict/s1",
        {"timestamp": "noon", "value": 1},
        422,
        "timestamp_format",
        ["body", "timestamp"],
    ),
    (
        "batch_mismatch",
        "POST",
        "/api/v1/predict/batch",
        {"series": [{"series_id": "a", "timestamps": [1, 2], "values": [1.0]}]},
        422,
        "length_mismatch",
        ["body", "series", 0, "timestamps"],
    ),
    (
        "batch_bad_series",
        "POST",
        "/api/v1/predict/batch",
        {
            "series": [
                {"series_id": "ok", "timestamps": [1], "values": [1.0]},
                {"series_id": "/x", "timestamps": [1], "values": [1.0]},
            ]
        },
        422,
        "series_id_pattern",
        ["body", "series", 1, "series_id"],
    ),
    (
        "plot_unknown",
        "GET",
        "/api/v1/plot?series_id=ghost",
        None,
        404,
        "series_not_found",
        ["query", "series_id"],
    ),
    (
        "plot_format",
        "GET",
        "/api/v1/plot?series_id=ghost&format=gif",
        None,
        422,
        "literal_error",
        ["query", "format"],
    ),
    ("no_route", "GET", "/api/v1/nothing", None, 404, "route_not_found", ["path"]),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):  # type: ignore[no-untyped-def]
    from tests.e2e.harness import Server

    running = Server(home=tmp_path_factory.mktemp("bad-input")).start()
    yield running
    running.kill()


@pytest.mark.parametrize(
    ("name", "method", "path", "payload", "status", "rule", "loc"), CASES, ids=[c[0] for c in CASES]
)
def test_rule_and_place_are_named(server, name, method, path, payload, status, rule, loc) -> None:  # type: ignore[no-untyped-def]
    with server.client() as http:
        if name == "empty_body":
            answer = http.request(
                method, path, content=b"", headers={"content-type": "application/json"}
            )
        else:
            answer = http.request(method, path, json=payload)
    assert answer.status_code == status, answer.text
    detail = answer.json()["error"]["details"][0]
    assert detail["type"] == rule, detail
    assert detail["loc"] == loc, detail
    assert detail["msg"]


def test_oversized_body_is_413(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as http:
        answer = http.post(
            TRAIN,
            content=b"[" + b"1," * (17 * 1024 * 1024) + b"1]",
            headers={"content-type": "application/json"},
        )
    assert answer.status_code == 413
    assert answer.json()["error"]["details"][0]["type"] == "body_too_large"


def test_state_rules_rate_limit_and_nothing_lost(server) -> None:  # type: ignore[no-untyped-def]
    """409 on a non-Staging promotion and on cancelling a finished job; accepted jobs stay."""
    with server.client() as http:
        accepted = http.post("/api/v1/training/state-1", json=body())
        assert accepted.status_code == 202
        job = wait_job(http, accepted.json()["job_id"])
        assert job["status"] == "completed"
        assert http.post("/api/v1/models/state-1/versions/v1/promote", json={}).status_code == 200
        again = http.post("/api/v1/models/state-1/versions/v1/promote", json={})
        assert (
            again.status_code == 409
            and again.json()["error"]["details"][0]["type"] == "version_not_in_staging"
        )
        cancel = http.delete(f"/api/v1/training/jobs/{job['job_id']}")
        assert (
            cancel.status_code == 409
            and cancel.json()["error"]["details"][0]["type"] == "job_finished"
        )
        assert http.get(f"/api/v1/training/jobs/{job['job_id']}").json()["status"] == "completed"
        models = http.get("/api/v1/models").json()
        assert [s["series_id"] for s in models["items"]] == ["state-1"]


def test_zz_no_request_reached_the_unhandled_error_handler(server) -> None:  # type: ignore[no-untyped-def]
    """Runs last in this module: none of the hostile requests above became a 500."""
    log = server.log_path.read_text(errors="replace")
    assert "unhandled error" not in log
    assert " 500 " not in log
