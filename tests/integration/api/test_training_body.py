"""The JSON training body: point lists checked by the route, as pydantic would check them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from seriesguard.api.app import create_app
from seriesguard.runtime import build_runtime
from seriesguard.settings import Settings

N = 120
TS = [1_700_000_000 + 60 * i for i in range(N)]
VALUES = [float(i % 7) for i in range(N)]


@pytest.fixture()
def api(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        home=tmp_path,
        mlflow_tracking_uri="memory://",
        min_training_points=100,
        training_min_interval_seconds=0,
        worker_concurrency=0,  # the jobs stay queued: only the API is under test
    )
    with TestClient(create_app(build_runtime(settings))) as client:
        yield client


def replaced(seq: list[Any], index: int, value: Any) -> list[Any]:
    copy = list(seq)
    copy[index] = value
    return copy


def post(api: TestClient, body: Any) -> Any:
    return api.post("/api/v1/training/s1", json=body)


@pytest.mark.parametrize(
    "body",
    [
        {"timestamps": TS, "values": VALUES},
        {"timestamps": [float(t) for t in TS], "values": [int(v) for v in VALUES]},
        {"timestamps": replaced(TS, 3, "2023-11-14T22:16:00Z"), "values": VALUES},  # mixed
        {"timestamps": TS, "values": replaced(VALUES, 5, "2.5")},  # numeric text, as pydantic
        {"timestamps": TS, "values": replaced(VALUES, 5, True)},  # lax bool, as pydantic
    ],
    ids=["ints_floats", "floats_ints", "mixed_timestamps", "numeric_text", "bool_value"],
)
def test_what_pydantic_accepts_is_accepted(api: TestClient, body: dict[str, Any]) -> None:
    answer = post(api, body)
    assert answer.status_code == 202, answer.text
    assert answer.json()["training_points"] == N


@pytest.mark.parametrize(
    ("body", "rule", "loc"),
    [
        ({"timestamps": TS, "values": replaced(VALUES, 9, "abc")}, "float_parsing", [9]),
        ({"timestamps": TS, "values": replaced(VALUES, 2, None)}, "float_type", [2]),
        ({"timestamps": TS, "values": replaced(VALUES, 4, [1.0])}, "float_type", [4]),
        ({"timestamps": TS, "values": [[1.0]] * N}, "float_type", [0]),  # a matrix
        ({"timestamps": TS, "values": "1,2,3"}, "list_type", []),
        ({"timestamps": replaced(TS, 6, None), "values": VALUES}, "float_type", [6, "float"]),
        ({"timestamps": {"a": 1}, "values": VALUES}, "list_type", []),
    ],
    ids=["text", "null", "nested", "matrix", "not_a_list", "null_timestamp", "object_timestamps"],
)
def test_errors_keep_pydantic_shape(
    api: TestClient, body: dict[str, Any], rule: str, loc: list[Any]
) -> None:
    answer = post(api, body)
    assert answer.status_code == 422
    first = answer.json()["error"]["details"][0]
    field = "values" if body["timestamps"] is TS else "timestamps"
    assert (first["type"], first["loc"]) == (rule, ["body", field, *loc])


def test_rules_after_parsing_still_apply(api: TestClient) -> None:
    answer = post(api, {"timestamps": TS, "values": replaced(VALUES, 7, "Infinity")})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["loc"] == ["body", "values", 7]
    assert answer.json()["error"]["details"][0]["type"] == "finite_values"


def test_openapi_keeps_the_documented_body(api: TestClient) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    body = schemas["TrainingRequest"]
    # both lists are optional: config.window_hours trains on the stored history instead
    assert body["properties"]["values"] == {
        "anyOf": [{"items": {"type": "number"}, "type": "array"}, {"type": "null"}],
        "description": "One finite value per timestamp. Omit with config.window_hours.",
        "title": "Values",
    }
    assert body["properties"]["timestamps"]["anyOf"][0]["items"] == {
        "anyOf": [{"type": "number"}, {"type": "string"}]
    }
    assert "required" not in body
