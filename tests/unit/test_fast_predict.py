"""The predict fast path answers only the plain case; everything else reaches the app, body
intact."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from seriesguard.api.fast_predict import FastPredictMiddleware
from seriesguard.api.security import PRINCIPAL
from seriesguard.core.authz import LOCAL_OPERATOR, Principal
from seriesguard.core.detectors import ZScoreDetector
from seriesguard.history.recorder import HistoryRecorder
from seriesguard.serving.scorer import Scorer, production_scorer
from seriesguard.serving.stats import StatsRecorder

PATH = "/api/v1/predict/s1"
PLAIN = b'{"timestamp": 100, "value": 13.0}'


class Resident:
    """What the middleware asks of the predictor: the scorer of a series in memory."""

    def __init__(self) -> None:
        detector = ZScoreDetector(mean=10.0, std=2.0)
        self.scorer = production_scorer(
            detector, series_id="s1", version=2, origin="catalog", loaded_from="memory"
        )
        self.stats = StatsRecorder(source="test", max_series=10)
        self.history = HistoryRecorder(max_pending=10)

    def resident_scorer(self, series_id: str) -> Scorer | None:
        return self.scorer if series_id == "s1" else None


def run(
    *,
    path: str = PATH,
    body: bytes = PLAIN,
    method: str = "POST",
    headers: list[tuple[bytes, bytes]] | None = None,
    chunks: int = 1,
    caller: Principal | None = LOCAL_OPERATOR,
    predictor: Resident | None = None,
) -> tuple[list[dict[str, Any]], bytes | None]:
    """Send one request through the middleware; (messages sent, body the inner app read)."""
    inner_body: list[bytes] = []
    sent: list[dict[str, Any]] = []
    parts = [body] if chunks == 1 else [body[: len(body) // 2], body[len(body) // 2 :]]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        data = b""
        while True:
            message = await receive()
            data += message.get("body", b"")
            if not message.get("more_body"):
                break
        inner_body.append(data)
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b"app"})

    async def receive() -> dict[str, Any]:
        part = parts.pop(0)
        return {"type": "http.request", "body": part, "more_body": bool(parts)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    default = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    scope = {"type": "http", "method": method, "path": path, "headers": headers or default}
    if caller is not None:  # what the security layer in front leaves in the scope
        scope[PRINCIPAL] = caller
    middleware = FastPredictMiddleware(app, predictor=predictor or Resident())  # type: ignore[arg-type]
    asyncio.run(middleware(scope, receive, send))
    return sent, (inner_body[0] if inner_body else None)


def test_plain_predict_is_answered_here() -> None:
    sent, inner = run()
    assert inner is None
    start, body = sent
    assert start["status"] == 200
    assert dict(start["headers"])[b"content-type"] == b"application/json"
    assert int(dict(start["headers"])[b"content-length"]) == len(body["body"])
    answer = orjson.loads(body["body"])
    assert (answer["series_id"], answer["timestamp"], answer["anomaly_score"]) == ("s1", 100.0, 1.5)
    assert answer["model_info"]["version"] == "v2"


def test_an_answer_here_is_counted_in_the_series_statistics() -> None:
    predictor = Resident()
    run(predictor=predictor)
    run(predictor=predictor, body=b'{"timestamp": 101, "value": 99.0}')
    (row,) = predictor.stats.collect().rows
    assert (row.series_id, row.version, row.requests, row.anomalies) == ("s1", 2, 2, 1)


@pytest.mark.parametrize(
    "case",
    [
        {"path": "/api/v1/predict/ghost"},  # not in memory: the fallback chain
        {"path": "/api/v1/predict/batch"},
        {"path": "/api/v1/predict/s1/"},
        {"path": "/api/v1/predict/_bad$"},
        {"path": "/api/v1/models/s1"},
        {"method": "GET"},
        {"body": b'{"timestamp": 1, "value": "1"}'},
        {"body": b'{"timestamp": "2024-01-01", "value": 1}'},
        {"body": b'{"timestamp": true, "value": 1}'},
        {"body": b'{"timestamp": 1, "value": 1, "x": 2}'},
        {"body": b'{"timestamp": 1, "value": 1e999}'},
        {"body": b'{"timestamp": 1, "value": '},
        {"body": b"[1, 2]"},
        {"chunks": 2},
        {"headers": [(b"content-type", b"application/json; charset=utf-8")]},
        {"headers": [(b"content-type", b"application/json"), (b"content-length", b"9999")]},
        {"headers": [(b"content-type", b"application/json"), (b"transfer-encoding", b"chunked")]},
    ],
)
def test_anything_else_goes_to_the_app_with_its_body(case: dict[str, Any]) -> None:
    sent, inner = run(**case)
    assert sent[0]["status"] == 299
    assert inner == case.get("body", PLAIN)  # read (and replayed) or never touched


def test_a_viewer_token_takes_the_fast_path() -> None:
    sent, inner = run(caller=Principal(subject="ana", roles=frozenset({"viewer"})))
    assert inner is None and sent[0]["status"] == 200


@pytest.mark.parametrize(
    "caller",
    [None, Principal(subject="bob", roles=frozenset()), Principal("x", frozenset({"guest"}))],
    ids=["no security layer", "no role", "unknown role"],
)
def test_callers_who_may_not_predict_are_left_to_the_route(caller: Principal | None) -> None:
    sent, inner = run(caller=caller)
    assert inner == PLAIN  # the app (its Authorize policy) answers them, body intact
    assert sent[0]["status"] == 299
