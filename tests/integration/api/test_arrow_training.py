"""Training from an Arrow IPC body: same job, same rules, errors with the column and row."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from tests.integration.api.test_api_inprocess import client_for

ARROW = "application/vnd.apache.arrow.stream"


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[TestClient]:
    with client_for(tmp_path) as client:
        yield client


def stream(**columns: pa.Array) -> bytes:
    table = pa.table(columns)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def values(n: int = 200) -> pa.Array:
    return pa.array(np.random.default_rng(4).normal(10, 1, n))


def wait_completed(api: TestClient, location: str) -> dict[str, object]:
    for _ in range(400):
        job: dict[str, object] = api.get(location).json()
        if job["status"] in ("completed", "failed"):
            return job
    raise AssertionError(f"job did not finish: {job}")


def test_arrow_body_trains_like_json(api: TestClient) -> None:
    epoch = np.arange(200, dtype=np.int64) + 1_700_000_000
    answer = api.post(
        "/api/v1/training/arrow-1/arrow",
        params={
            "priority": 9,
            "algorithm": "statistical",
            "hyperparameters": json.dumps({"threshold_sigma": 4}),
        },
        content=stream(timestamp=pa.array(epoch), value=values()),
        headers={"content-type": ARROW},
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["priority"] == 9
    job = wait_completed(api, answer.headers["location"])
    assert job["status"] == "completed" and job["training_points"] == 200
    version = api.get("/api/v1/models/arrow-1").json()["versions"][0]
    assert version["params"]["threshold_sigma"] == 4


def test_arrow_timestamp_type_is_read_as_epoch_seconds(api: TestClient) -> None:
    instants = pa.array(
        (np.arange(200, dtype=np.int64) + 1_700_000_000) * 1000, type=pa.timestamp("ms")
    )
    answer = api.post(
        "/api/v1/training/arrow-2/arrow",
        content=stream(timestamp=instants, value=values()),
        headers={"content-type": ARROW},
    )
    assert answer.status_code == 202, answer.text
    job = wait_completed(api, answer.headers["location"])
    assert job["status"] == "completed"
    metrics = api.get("/api/v1/models/arrow-2").json()["versions"][0]["metrics"]
    assert (metrics["window_start"], metrics["window_end"]) == (1_700_000_000, 1_700_000_199)


@pytest.mark.parametrize(
    ("body", "rule", "loc"),
    [
        (b"not arrow", "arrow_invalid", ["body"]),
        (stream(timestamp=pa.array(np.arange(200.0))), "missing_column", ["body", "value"]),
        (
            stream(timestamp=pa.array(np.arange(200.0)), value=pa.array(["x"] * 200)),
            "column_type",
            ["body", "value"],
        ),
        (
            stream(
                timestamp=pa.array(np.arange(200.0)),
                value=pa.array([1.0] * 50 + [None] + [2.0] * 149),
            ),
            "null_value",
            ["body", "value", 50],
        ),
        (
            stream(timestamp=pa.array(np.r_[np.arange(100.0), np.arange(100.0)]), value=values()),
            "strictly_increasing",
            ["body", "timestamps", 100],
        ),
    ],
    ids=["not-arrow", "missing-column", "text-values", "null", "not-increasing"],
)
def test_arrow_errors_name_the_rule_and_the_place(
    api: TestClient, body: bytes, rule: str, loc: list[object]
) -> None:
    answer = api.post("/api/v1/training/bad/arrow", content=body, headers={"content-type": ARROW})
    assert answer.status_code == 422, answer.text
    detail = answer.json()["error"]["details"][0]
    assert (detail["type"], detail["loc"]) == (rule, loc)


def test_arrow_route_refuses_other_media_types_and_bad_hyperparameters(api: TestClient) -> None:
    refused = api.post(
        "/api/v1/training/s/arrow", content=b"{}", headers={"content-type": "application/json"}
    )
    assert refused.status_code == 415
    assert refused.json()["error"]["details"][0]["type"] == "unsupported_media_type"
    body = stream(timestamp=pa.array(np.arange(200.0)), value=values())
    bad = api.post(
        "/api/v1/training/s/arrow",
        params={"hyperparameters": "[1]"},
        content=body,
        headers={"content-type": ARROW},
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["loc"] == ["query", "hyperparameters"]
