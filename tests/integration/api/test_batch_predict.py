"""Batch predict through the real app: JSON and Arrow bodies, same scores, errors with places."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from tests.integration.api.test_api_inprocess import client_for, train_and_promote

from seriesguard.client import SeriesguardClient, SeriesguardError
from seriesguard.serving import batch as serving_batch

ARROW = "application/vnd.apache.arrow.stream"
BATCH = "/api/v1/predict/batch"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module, with production models for s1 and s2."""
    with client_for(tmp_path_factory.mktemp("batch")) as client:
        train_and_promote(client, "s1")
        train_and_promote(client, "s2")
        yield client


def stream(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def post_arrow(api: TestClient, table: pa.Table, **headers: str) -> Any:
    return api.post(BATCH, content=stream(table), headers={"content-type": ARROW, **headers})


def read_answer(content: bytes) -> tuple[pa.Table, dict[str, Any]]:
    table = pa.ipc.open_stream(content).read_all()
    return table, orjson.loads(table.schema.metadata[b"seriesguard.series"])


def interleaved() -> pa.Table:
    """s1, s2 and an unknown series, rows interleaved (the server regroups them)."""
    values = np.round(np.random.default_rng(5).normal(10, 3, 9), 3)
    values[4] = 100.0  # far out for any model
    return pa.table(
        {
            "series_id": ["s1", "s2", "ghost"] * 3,
            "timestamp": np.arange(9, dtype=np.int64) + 1_700_000_000,
            "value": values,
        }
    )


def rule_and_place(answer: Any) -> tuple[str, list[object]]:
    detail = answer.json()["error"]["details"][0]
    return detail["type"], detail["loc"]


def test_arrow_body_answers_one_row_per_point_in_request_order(api: TestClient) -> None:
    sent = interleaved()
    answer = post_arrow(api, sent)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == ARROW
    table, facts = read_answer(answer.content)
    assert table.schema.names == ["anomaly", "anomaly_score", "normalized_score"]
    assert table.schema.field("anomaly").type == pa.bool_()
    assert table.schema.field("anomaly_score").type == pa.float64()
    assert table.schema.field("normalized_score").type == pa.float64()
    assert table.num_rows == 9 and table.schema.metadata[b"seriesguard.points"] == b"9"
    assert facts["s1"]["model_info"] == {
        "version": "v1",
        "stage": "production",
        "type": "mlflow_trained",
        "loaded_from": "memory",
    }
    assert facts["s1"]["confidence"] == "high"
    assert facts["ghost"]["model_info"]["stage"] == "fallback"
    assert facts["ghost"]["confidence"] == "low"
    ids = sent.column("series_id").to_pylist()
    scores = table.column("anomaly_score").to_numpy()
    flags = table.column("anomaly").to_numpy(zero_copy_only=False)
    thresholds = np.array([facts[s]["threshold"] for s in ids])
    assert (flags == (scores > thresholds)).all()
    assert flags[4] and scores[4] > 10  # row 4 is the planted outlier, answered at row 4
    normalized = table.column("normalized_score").to_numpy()
    np.testing.assert_array_equal(normalized, scores / (scores + thresholds))  # row by row
    assert ((normalized >= 0.0) & (normalized <= 1.0)).all()
    far = np.abs(scores - thresholds) > 0.1 * thresholds  # a rounding away is no verdict
    assert far[4] and ((normalized > 0.5) == flags)[far].all()


def test_json_and_arrow_give_identical_scores(api: TestClient) -> None:
    sent = interleaved()
    ids = sent.column("series_id").to_pylist()
    stamps = sent.column("timestamp").to_pylist()
    values = sent.column("value").to_pylist()
    items = [
        {
            "series_id": series,
            "timestamps": [t for t, s in zip(stamps, ids, strict=True) if s == series],
            "values": [v for v, s in zip(values, ids, strict=True) if s == series],
        }
        for series in ("s1", "s2", "ghost")
    ]
    as_json = api.post(BATCH, json={"series": items})
    assert as_json.status_code == 200, as_json.text
    results = {r["series_id"]: r for r in as_json.json()["results"]}
    table, facts = read_answer(post_arrow(api, sent).content)
    scores = table.column("anomaly_score").to_pylist()
    normalized = table.column("normalized_score").to_pylist()
    for series, result in results.items():
        rows = [i for i, s in enumerate(ids) if s == series]
        assert [scores[i] for i in rows] == result["anomaly_scores"]  # exact, not approximate
        assert [normalized[i] for i in rows] == result["normalized_scores"]
        assert facts[series]["threshold"] == result["threshold"]
        assert facts[series]["model_info"] == result["model_info"]
    # Arrow in, JSON out (Accept) gives the JSON answer, one result per series.
    negotiated = post_arrow(api, sent, accept="application/json")
    assert negotiated.headers["content-type"] == "application/json"
    assert negotiated.json() == as_json.json()
    # JSON in, Arrow out.
    arrow_out = api.post(BATCH, json={"series": items}, headers={"accept": ARROW})
    grouped, _ = read_answer(arrow_out.content)
    flat = [s for r in as_json.json()["results"] for s in r["anomaly_scores"]]
    assert grouped.column("anomaly_score").to_pylist() == flat


def test_json_body_keeps_the_seed_shape_and_accepts_iso_and_text_numbers(api: TestClient) -> None:
    body = {
        "series": [
            {"series_id": "s1", "timestamps": ["2024-01-01T00:00:00Z", 1.5e9], "values": [10, 50]},
            {"series_id": "s2", "timestamps": [], "values": []},
            {"series_id": "s2", "timestamps": [1], "values": ["10.5"]},  # pydantic's lax float
        ]
    }
    answer = api.post(BATCH, json=body)
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["points"] == 3
    assert [r["series_id"] for r in document["results"]] == ["s1", "s2", "s2"]
    first = document["results"][0]
    assert set(first) == {
        "series_id",
        "anomalies",
        "anomaly_scores",
        "normalized_scores",
        "threshold",
        "model_info",
        "confidence",
    }
    assert first["anomalies"] == [False, True]
    for raw, normalized in zip(first["anomaly_scores"], first["normalized_scores"], strict=True):
        assert normalized == raw / (raw + first["threshold"])
    assert first["normalized_scores"][0] < 0.5 < first["normalized_scores"][1]
    assert document["results"][1]["normalized_scores"] == []
    assert document["results"][1]["anomaly_scores"] == []


@pytest.mark.parametrize(
    ("series", "rule", "loc"),
    [
        (
            [{"series_id": "s1", "timestamps": [1], "values": [None]}],
            "float_type",
            ["body", "series", 0, "values", 0],
        ),
        (
            [{"series_id": "s1", "timestamps": [1, 2], "values": [1.0, "nan"]}],
            "finite_values",
            ["body", "series", 0, "values", 1],
        ),
        (
            [
                {"series_id": "s1", "timestamps": [1], "values": [1.0]},
                {"series_id": "s1", "timestamps": [1, "noon"], "values": [1.0, 2.0]},
            ],
            "timestamp_format",
            ["body", "series", 1, "timestamps", 1],
        ),
        (
            [{"series_id": "s1", "timestamps": [1, 2], "values": [1.0]}],
            "length_mismatch",
            ["body", "series", 0, "timestamps"],
        ),
        (
            [
                {"series_id": "ok", "timestamps": [1], "values": [1.0]},
                {"series_id": "/x", "timestamps": [1], "values": [1.0]},
            ],
            "series_id_pattern",
            ["body", "series", 1, "series_id"],
        ),
        (
            [{"series_id": "s1", "timestamps": [1], "values": [1.0], "extra": 1}],
            "extra_forbidden",
            ["body", "series", 0, "extra"],
        ),
    ],
    ids=["null-value", "nan-value", "bad-timestamp", "lengths", "series-id", "extra-field"],
)
def test_json_errors_name_the_rule_and_the_place(
    api: TestClient, series: list[dict[str, Any]], rule: str, loc: list[object]
) -> None:
    answer = api.post(BATCH, json={"series": series})
    assert answer.status_code == 422, answer.text
    assert rule_and_place(answer) == (rule, loc)


def with_column(name: str, array: pa.Array) -> pa.Table:
    table = interleaved()
    return table.set_column(table.column_names.index(name), name, array)


@pytest.mark.parametrize(
    ("table", "rule", "loc"),
    [
        (
            with_column("series_id", pa.array(["s1"] * 6 + ["bad id"] + ["s1"] * 2)),
            "series_id_pattern",
            ["body", "series_id", 6],
        ),
        (
            with_column("series_id", pa.array(["s1"] * 3 + [None] + ["s1"] * 5)),
            "null_value",
            ["body", "series_id", 3],
        ),
        (
            with_column("series_id", pa.array(np.arange(9))),
            "column_type",
            ["body", "series_id"],
        ),
        (
            with_column("value", pa.array([1.0] * 7 + [np.nan, 1.0])),
            "finite_values",
            ["body", "value", 7],
        ),
        (
            with_column("timestamp", pa.array([1.0, np.inf] + [1.0] * 7)),
            "finite_values",
            ["body", "timestamp", 1],
        ),
        (interleaved().drop_columns(["series_id"]), "missing_column", ["body", "series_id"]),
        (interleaved().drop_columns(["value"]), "missing_column", ["body", "value"]),
    ],
    ids=["bad-id", "null-id", "number-ids", "nan-value", "inf-timestamp", "no-ids", "no-values"],
)
def test_arrow_errors_name_the_column_and_the_row(
    api: TestClient, table: pa.Table, rule: str, loc: list[object]
) -> None:
    answer = post_arrow(api, table)
    assert answer.status_code == 422, answer.text
    assert rule_and_place(answer) == (rule, loc)


def test_dictionary_ids_and_timestamp_type_are_read(api: TestClient) -> None:
    plain = interleaved()
    table = pa.table(
        {
            "series_id": plain.column("series_id").dictionary_encode(),
            "timestamp": pa.array(
                plain.column("timestamp").to_numpy() * 1000, type=pa.timestamp("ms")
            ),
            "value": plain.column("value"),
        }
    )
    expected, _ = read_answer(post_arrow(api, plain).content)
    answer, _ = read_answer(post_arrow(api, table).content)
    assert answer.equals(expected)


@pytest.mark.parametrize("content_type", ["text/csv", "application/vnd.apache.arrow.file", None])
def test_other_media_types_are_415(api: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    answer = api.post(BATCH, content=b"series_id,timestamp,value\n", headers=headers)
    assert answer.status_code == 415
    assert rule_and_place(answer) == ("unsupported_media_type", ["header", "content-type"])


def test_unknown_series_is_404_when_the_fallback_is_disabled(tmp_path: Path) -> None:
    with client_for(tmp_path, fallback_enabled=False) as strict:
        train_and_promote(strict, "s1")
        items = [
            {"series_id": "s1", "timestamps": [1], "values": [1.0]},
            {"series_id": "ghost", "timestamps": [1], "values": [1.0]},
        ]
        answer = strict.post(BATCH, json={"series": items})
        assert answer.status_code == 404
        assert rule_and_place(answer) == ("model_not_found", ["body", "series", 1, "series_id"])
        assert "ghost" in answer.json()["error"]["details"][0]["msg"]
        arrow = post_arrow(strict, interleaved())  # s2 (no model here) first appears at row 1
        assert arrow.status_code == 404
        assert rule_and_place(arrow) == ("model_not_found", ["body", "series_id", 1])
        assert "'s2'" in arrow.json()["error"]["details"][0]["msg"]


def test_too_many_points_names_the_limit(api: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving_batch, "MAX_BATCH_POINTS", 8)
    arrow = post_arrow(api, interleaved())
    assert arrow.status_code == 422
    assert rule_and_place(arrow) == ("max_batch_points", ["body"])
    assert "at most 8" in arrow.json()["error"]["details"][0]["msg"]
    items = [{"series_id": "s1", "timestamps": list(range(9)), "values": [1.0] * 9}]
    as_json = api.post(BATCH, json={"series": items})
    assert as_json.status_code == 422
    assert rule_and_place(as_json) == ("max_batch_points", ["body", "series"])


def test_openapi_documents_both_bodies(api: TestClient) -> None:
    operation = api.get("/openapi.json").json()["paths"][BATCH]["post"]
    content = operation["requestBody"]["content"]
    assert content["application/json"]["schema"]["title"] == "BatchRequest"
    assert "series" in content["application/json"]["schema"]["properties"]
    assert ARROW in content
    answers = operation["responses"]["200"]["content"]
    assert answers["application/json"]["schema"] == {"$ref": "#/components/schemas/BatchResponse"}
    assert ARROW in answers


def test_client_sends_and_reads_both_formats(api: TestClient) -> None:
    client = SeriesguardClient("http://testserver")
    client._http = api  # the TestClient is an httpx.Client bound to the app
    sent = interleaved()
    answer = client.predict_batch_arrow(
        {name: sent.column(name).to_numpy(zero_copy_only=False) for name in sent.column_names}
    )
    assert answer.points == 9 and answer.table.num_rows == 9
    assert answer.series["s2"]["model_info"]["version"] == "v1"
    ids = sent.column("series_id").to_pylist()
    as_json = client.predict_batch(
        [
            {
                "series_id": "s1",
                "timestamps": np.arange(3) + 1_700_000_000,
                "values": sent.column("value").to_numpy()[
                    [i for i, s in enumerate(ids) if s == "s1"]
                ],
            }
        ]
    )
    s1_rows = [i for i, s in enumerate(ids) if s == "s1"]
    scores = answer.table.column("anomaly_score").to_pylist()
    assert as_json["results"][0]["anomaly_scores"] == [scores[i] for i in s1_rows]
    with pytest.raises(SeriesguardError) as refused:
        client.predict_batch([{"series_id": "s1", "timestamps": [1], "values": [float("nan")]}])
    assert (refused.value.status_code, refused.value.rule) == (0, "finite_values")
    with pytest.raises(SeriesguardError) as bad:
        client.predict_batch_arrow({"series_id": ["s1"], "timestamp": [1], "value": [np.nan]})
    assert (bad.value.status_code, bad.value.rule, bad.value.loc) == (
        422,
        "finite_values",
        ("body", "value", 0),
    )


@pytest.mark.parametrize(
    ("accept", "arrow_out"),
    [
        (None, False),
        ("*/*", False),
        ("application/json", False),
        (ARROW, True),
        (f"application/json;q=0.5, {ARROW}", True),
        (f"{ARROW};q=0.2, application/*;q=0.9", False),
        ("text/html", False),  # nothing acceptable: the request's own format
    ],
)
def test_accept_chooses_the_answer_format(
    api: TestClient, accept: str | None, arrow_out: bool
) -> None:
    items = [{"series_id": "s1", "timestamps": [1], "values": [1.0]}]
    headers = {"accept": accept} if accept else {}
    answer = api.post(BATCH, json={"series": items}, headers=headers)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == (ARROW if arrow_out else "application/json")
