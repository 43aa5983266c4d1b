"""Single-point inference (seed flow 4). Never blocks on MLflow for a warm series.

The hottest route of the platform, so it does by hand what FastAPI would do for it: the raw
body goes through orjson, the two fields are checked in place when they have the plain JSON
types nearly every client sends, and the answer leaves as orjson bytes. Anything else (a
string number, a missing or extra field, a body of the wrong shape) is validated by pydantic
against :class:`PredictRequest` exactly as FastAPI would have, so every error keeps its rule,
place and wording. No dependency is declared: FastAPI runs a plain-function dependency in the
thread pool, a round trip between threads on every request.

In a running predictor, most predicts never get here: ``api/fast_predict.py`` answers a plain
predict of a model in memory in front of the app, with :func:`answer_bytes`, and hands this
route everything else.
"""

from __future__ import annotations

import math
import time
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from starlette.responses import Response

from seriesguard.api.deps import allow
from seriesguard.api.fast_json import JSON_MEDIA_TYPE, NO_BODY, json_body
from seriesguard.api.schemas import PredictRequest, PredictResponse
from seriesguard.core.authz import Permission
from seriesguard.core.detectors import normalized_score
from seriesguard.core.errors import InvalidInput, NotFound
from seriesguard.core.monitoring import FALLBACK_VERSION
from seriesguard.core.series import check_series_id
from seriesguard.core.validation import parse_timestamp
from seriesguard.serving.challengers import shadow_one
from seriesguard.serving.predictor import Predictor
from seriesguard.serving.scorer import Scorer

ROUTE_PREFIX = "/api/v1/predict"
router = APIRouter(prefix=ROUTE_PREFIX, tags=["predict"])

_REQUEST = TypeAdapter(PredictRequest)
_FIELDS = frozenset({"timestamp", "value"})
_NUMBER = (float, int)
_TIMESTAMP = (float, int, str)

# The body is read by hand, so FastAPI cannot infer it: it is documented by reference, and
# the app adds the models named here to the OpenAPI components.
HAND_READ_BODIES = (PredictRequest,)
REQUEST_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {JSON_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/PredictRequest"}}},
    }
}


def _check_fallback(predictor: Predictor, series_id: str, scorer: Scorer) -> None:
    if scorer.info.stage == "fallback" and not predictor.fallback_enabled:
        raise NotFound(
            f"series {series_id!r} has no production model and the fallback is disabled",
            rule="model_not_found",
            loc=("path", "series_id"),
        )


def read_point(body: Any) -> tuple[object, float]:
    """``(timestamp as sent, value)`` of a predict body, or the 422 FastAPI would answer."""
    if type(body) is dict and len(body) == 2 and body.keys() == _FIELDS:
        timestamp, value = body["timestamp"], body["value"]
        # Exact types on purpose: bool is an int, and pydantic's own rules for it (and for
        # numbers sent as strings) are applied below rather than copied here.
        if type(value) in _NUMBER and type(timestamp) in _TIMESTAMP:
            return timestamp, float(value)
    if body is NO_BODY:  # FastAPI's answer to an empty body
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        point = _REQUEST.validate_python(body, from_attributes=True)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None
    return point.timestamp, point.value


def answer_bytes(
    series_id: str, timestamp: float, anomaly: bool, score: float, scorer: Scorer
) -> bytes:
    """The JSON of a prediction (``PredictResponse``), the route's and the fast path's."""
    info = scorer.info
    threshold = float(scorer.detector.threshold)
    return orjson.dumps(
        {
            "series_id": series_id,
            "timestamp": timestamp,
            "anomaly": bool(anomaly),
            "anomaly_score": float(score),
            "normalized_score": normalized_score(score, threshold),
            "threshold": threshold,
            "model_info": info.as_model_info(),
            "confidence": info.confidence,
        }
    )


@router.post(
    "/{series_id}",
    response_model=PredictResponse,
    openapi_extra=REQUEST_BODY_DOC,
    summary="Score one point of a series",
    dependencies=[allow(Permission.PREDICT)],
)
async def predict(series_id: str, request: Request) -> Response:
    # Same order as FastAPI's own validation: body first, then our rules.
    raw = await request.body()
    raw_timestamp, value = read_point(json_body(raw, request.headers.get("content-type")))
    check_series_id(series_id)
    if not math.isfinite(value):
        raise InvalidInput("value must be finite", rule="finite_values", loc=("body", "value"))
    timestamp = parse_timestamp(raw_timestamp, loc=("body", "timestamp"))
    predictor: Predictor = request.app.state.runtime.predictor
    # The seed's trace: predict -> load_model -> inference (free when tracing is off).
    with predictor.tracing.span("predict", {"series_id": series_id}) as span:
        content, anomaly = await _predict(predictor, series_id, timestamp, value)
        span.set_attribute("anomaly", anomaly)
    return Response(content, media_type=JSON_MEDIA_TYPE)


async def _predict(
    predictor: Predictor, series_id: str, timestamp: float, value: float
) -> tuple[bytes, bool]:
    """The answer's bytes and its verdict, counted in the per-series statistics."""
    started = time.perf_counter()
    tracing = predictor.tracing
    # A resident model is scored right here on the event loop (microseconds, no I/O); only a
    # miss walks the rest of the chain (DB, MLflow, disk) in the thread pool.
    with tracing.span("load_model") as span:
        scorer = predictor.resident_scorer(series_id)
        if scorer is None:
            try:
                scorer = await run_in_threadpool(predictor.load_scorer, series_id)
            except Exception:
                predictor.stats.record_error((series_id, FALLBACK_VERSION))
                raise
            _check_fallback(predictor, series_id, scorer)
        span.set_attribute("loaded_from", scorer.info.loaded_from)
        span.set_attribute("model_version", scorer.info.version)
    with tracing.span("inference"):
        return answer_counted(predictor, series_id, timestamp, value, scorer, started=started)


def answer_counted(
    predictor: Predictor,
    series_id: str,
    timestamp: float,
    value: float,
    scorer: Scorer,
    *,
    started: float,
) -> tuple[bytes, bool]:
    """Score the point, the answer's bytes and its verdict, counted in the series'
    statistics with the time since ``started``: the route's and the fast path's.

    ``scorer`` is the series' production scorer; with a canary it picks who answers this
    point, with a shadow the shadow scores it too, after the answer is built."""
    routing = scorer.routing  # None for nearly every series: the only cost they pay
    answering = scorer if routing is None else scorer.pick(timestamp)
    anomaly, score = answering.score_one(value, timestamp)
    content = answer_bytes(series_id, timestamp, anomaly, score, answering)
    predictor.stats.record(
        answering,
        value=value,
        timestamp=timestamp,
        anomaly=anomaly,
        score=score,
        seconds=time.perf_counter() - started,
    )
    predictor.history.record(series_id, timestamp, value)  # kept for training (history/)
    if routing is not None and routing.shadow is not None:
        shadow_one(
            predictor.stats, routing.shadow, value=value, timestamp=timestamp, answered=anomaly
        )
    return content, anomaly
