"""The single-point predict route, in process, as the server runs it (fast path in front): the
hand-read body keeps FastAPI's rules, error bodies and OpenAPI documentation; the answer has the
seed's shape; the fast path answers exactly as the route does."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from seriesguard.api.app import serving_app
from seriesguard.core.catalog import ModelVersion
from seriesguard.core.stages import Stage
from seriesguard.runtime import build_runtime
from seriesguard.settings import Settings

JSON = "application/json"
MODEL = {"mean": 10.0, "std": 2.0, "threshold_sigma": 3.0}


@contextmanager
def client_with_model(home: Path, *, fast_predict: bool) -> Iterator[TestClient]:
    """A predictor app whose series ``s1`` (and ``batch``, a legal series id) is resident."""
    settings = Settings(home=home, mlflow_tracking_uri="memory://", fast_predict=fast_predict)
    runtime = build_runtime(settings)
    with TestClient(serving_app(runtime)) as client:
        versions = [
            ModelVersion(
                series_id=s,
                version=3,
                stage=Stage.PRODUCTION,
                algorithm="statistical",
                params=MODEL,
            )
            for s in ("s1", "batch")
        ]
        runtime.catalog.add_new_series(versions, stats=[None, None])
        runtime.predictor.poll_catalog()
        yield client


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with client_with_model(tmp_path_factory.mktemp("predict"), fast_predict=True) as client:
        yield client


@pytest.fixture(scope="module")
def framework_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with client_with_model(tmp_path_factory.mktemp("slow"), fast_predict=False) as client:
        yield client


def post(api: TestClient, body: bytes, *, series: str = "s1", ct: str | None = JSON) -> Any:
    headers = {} if ct is None else {"content-type": ct}
    return api.post(f"/api/v1/predict/{series}", content=body, headers=headers)


def test_answer_has_the_seed_shape(api: TestClient) -> None:
    answer = post(api, b'{"timestamp": 1700000000, "value": 16.5}')
    assert answer.status_code == 200
    assert answer.headers["content-type"] == JSON
    assert answer.json() == {
        "series_id": "s1",
        "timestamp": 1700000000.0,
        "anomaly": True,
        "anomaly_score": 3.25,
        "normalized_score": 3.25 / (3.25 + 3.0),
        "threshold": 3.0,
        "model_info": {
            "version": "v3",
            "stage": "production",
            "type": "mlflow_trained",
            "loaded_from": "memory",
        },
        "confidence": "high",
    }


@pytest.mark.parametrize(
    ("body", "ct", "timestamp", "score"),
    [
        (b'{"value": 12, "timestamp": 5.5}', JSON, 5.5, 1.0),
        (b'{"timestamp": "2024-01-01T00:00:00Z", "value": 10}', JSON, 1704067200.0, 0.0),
        (b'{"timestamp": "2024-01-01T00:00:00", "value": 8}', JSON, 1704067200.0, 1.0),
        # pydantic's lax rules, applied by the slow path exactly as FastAPI would
        (b'{"timestamp": true, "value": " 14 "}', JSON, 1.0, 2.0),
        (b'{"timestamp": 1, "value": "1_0"}', JSON, 1.0, 0.0),
        (b'{"timestamp": 1, "value": 10}', "application/json; charset=utf-8", 1.0, 0.0),
        (b'{"timestamp": 1, "value": 10}', "application/vnd.sensor+json", 1.0, 0.0),
    ],
)
def test_accepted_bodies(
    api: TestClient, body: bytes, ct: str, timestamp: float, score: float
) -> None:
    answer = post(api, body, ct=ct)
    assert answer.status_code == 200, answer.text
    assert answer.json()["timestamp"] == timestamp
    assert answer.json()["anomaly_score"] == score


T1 = b'{"timestamp": 1, '
ATTRS = "model_attributes_type"
REJECTED = [
    ("empty", b"", JSON, "missing", ["body"]),
    ("invalid_json", T1 + b'"value": ', JSON, "json_invalid", ["body", 26]),
    ("nan_token", T1 + b'"value": NaN}', JSON, "json_invalid", ["body", 26]),
    ("no_content_type", T1 + b'"value": 1}', None, ATTRS, ["body"]),
    ("text_plain", T1 + b'"value": 1}', "text/plain", ATTRS, ["body"]),
    ("list_body", b"[1, 2]", JSON, ATTRS, ["body"]),
    ("missing_value", b'{"timestamp": 1}', JSON, "missing", ["body", "value"]),
    ("extra_field", T1 + b'"value": 1, "x": 0}', JSON, "extra_forbidden", ["body", "x"]),
    ("value_text", T1 + b'"value": "hot"}', JSON, "float_parsing", ["body", "value"]),
    ("value_null", T1 + b'"value": null}', JSON, "float_type", ["body", "value"]),
    ("value_nan", T1 + b'"value": "NaN"}', JSON, "finite_values", ["body", "value"]),
    ("value_inf", T1 + b'"value": "-inf"}', JSON, "finite_values", ["body", "value"]),
    ("bad_time", b'{"timestamp": "noon", "value": 1}', JSON, "timestamp_format",
     ["body", "timestamp"]),
    ("time_null", b'{"timestamp": null, "value": 1}', JSON, "float_type",
     ["body", "timestamp", "float"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "body", "ct", "rule", "loc"), REJECTED, ids=[case[0] for case in REJECTED]
)
def test_rejected_bodies_name_rule_and_place(
    api: TestClient, name: str, body: bytes, ct: str | None, rule: str, loc: list[Any]
) -> None:
    answer = post(api, body, ct=ct)
    assert answer.status_code == 422, answer.text
    detail = answer.json()["error"]["details"]
    assert (detail[0]["type"], detail[0]["loc"]) == (rule, loc)
    assert detail[0]["msg"]


def test_every_missing_field_is_reported(api: TestClient) -> None:
    detail = post(api, b"{}").json()["error"]["details"]
    assert [(d["type"], d["loc"]) for d in detail] == [
        ("missing", ["body", "timestamp"]),
        ("missing", ["body", "value"]),
    ]


def test_body_rules_come_before_the_series_id(api: TestClient) -> None:
    bad_body = post(api, b'{"timestamp": 1}', series="_bad$id").json()["error"]["details"][0]
    assert bad_body["loc"] == ["body", "value"]
    bad_id = post(api, b'{"timestamp": 1, "value": "NaN"}', series="_bad$id")
    assert bad_id.json()["error"]["details"][0]["type"] == "series_id_pattern"


@pytest.mark.parametrize("value", [10.0, 11.0, 4.0, 17.0, 40.0, -30.0, 1e300])
def test_normalized_score_is_the_raw_score_on_a_0_to_1_scale(api: TestClient, value: float) -> None:
    body = b'{"timestamp": 1700000000, "value": %s}' % repr(value).encode()
    answer = post(api, body).json()
    raw, threshold, normalized = (
        answer["anomaly_score"],
        answer["threshold"],
        answer["normalized_score"],
    )
    assert normalized == raw / (raw + threshold)
    assert 0.0 <= normalized <= 1.0
    assert (normalized > 0.5) == answer["anomaly"]  # no point here is near the threshold


def test_fallback_answers_a_normalized_score_too(api: TestClient) -> None:
    answer = post(api, b'{"timestamp": 1, "value": 4}', series="ghost").json()
    assert answer["normalized_score"] == 4.0 / (4.0 + answer["threshold"]) > 0.5


def test_unknown_series_takes_the_fallback(api: TestClient) -> None:
    answer = post(api, b'{"timestamp": 1, "value": 4}', series="ghost").json()
    assert answer["model_info"]["type"] == "fallback_zscore"
    assert (answer["confidence"], answer["anomaly"], answer["anomaly_score"]) == ("low", True, 4.0)


def test_openapi_documents_request_and_response(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    operation = schema["paths"]["/api/v1/predict/{series_id}"]["post"]
    body = operation["requestBody"]["content"][JSON]["schema"]
    assert body == {"$ref": "#/components/schemas/PredictRequest"}
    assert operation["requestBody"]["required"] is True
    answer = operation["responses"]["200"]["content"][JSON]["schema"]
    assert answer == {"$ref": "#/components/schemas/PredictResponse"}
    request_model = schema["components"]["schemas"]["PredictRequest"]
    assert request_model["required"] == ["timestamp", "value"]
    assert request_model["additionalProperties"] is False
    assert operation["parameters"][0]["name"] == "series_id"


SAME_ANSWER = [
    ("s1", b'{"timestamp": 1700000000, "value": 16.5}', JSON),
    ("s1", b'{"value": -2, "timestamp": 1.25}', JSON),
    ("s1", b'{"timestamp": 1, "value": 1e308}', JSON),
    ("s1", b'{"timestamp": 1, "value": true}', JSON),
    ("s1", b'{"timestamp": "2024-01-01T00:00:00Z", "value": 1}', JSON),
    ("s1", b'{"timestamp": 1, "value": 1, "x": 1}', JSON),
    ("s1", b'{"timestamp": 1, "value": 1}', "application/json; charset=utf-8"),
    ("s1", b'{"timestamp": 1, "value": 1}', "text/plain"),
    ("s1", b'{"timestamp": 1}', JSON),
    ("s1", b"{" + b" " * 5000 + b'"timestamp": 1, "value": 1}', JSON),
    ("s1/", b'{"timestamp": 1, "value": 1}', JSON),
    ("ghost", b'{"timestamp": 1, "value": 1}', JSON),
    ("_bad$id", b'{"timestamp": 1, "value": 1}', JSON),
    ("batch", b'{"timestamp": 1, "value": 1}', JSON),
    ("batch", b'{"series": [{"series_id": "s1", "timestamps": [1], "values": [2.0]}]}', JSON),
]


@pytest.mark.parametrize(("series", "body", "ct"), SAME_ANSWER)
def test_fast_path_answers_as_the_route_does(
    api: TestClient, framework_only: TestClient, series: str, body: bytes, ct: str
) -> None:
    fast, slow = (
        post(api, body, series=series, ct=ct),
        post(framework_only, body, series=series, ct=ct),
    )
    assert (fast.status_code, fast.headers["content-type"]) == (
        slow.status_code,
        slow.headers["content-type"],
    )
    assert fast.content == slow.content
