"""Batch inference: many points of many series in one request (seed flow 4).

One endpoint, two bodies told apart by ``Content-Type``: the seed's JSON (``BatchRequest``)
and a columnar Arrow IPC stream (see ``api/batch_schemas``); anything else is 415. The answer
is in the request's format unless ``Accept`` prefers the other one, so an Arrow client can
still read JSON and a JSON client can ask for Arrow. Reading, scoring and writing all run in
one worker thread: a 1M-point batch is 0.1 s (Arrow) to 0.5 s (JSON) of CPU that must not
stall the event loop, and a series missing from memory may need the DB or MLflow. No FastAPI
dependency is declared: a plain-function dependency costs a thread-pool hop of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from seriesguard.api import batch_schemas
from seriesguard.api.batch_schemas import ARROW_MEDIA_TYPE
from seriesguard.api.deps import allow, get_predictor
from seriesguard.api.schemas import BatchRequest, BatchResponse
from seriesguard.core.authz import Permission
from seriesguard.serving.batch import (
    MAX_BATCH_POINTS,
    BatchPoints,
    BatchScores,
    count_batch,
    score_batch,
)
from seriesguard.serving.predictor import Predictor

JSON_MEDIA_TYPE = "application/json"

# Registered before the single-point router: "/batch" must not be taken for a series id.
router = APIRouter(prefix="/api/v1/predict", tags=["predict"])


def _inline_schema(model: type[BatchRequest]) -> dict[str, Any]:
    """The model's JSON schema with its ``$defs`` written in place: the request body is read
    by hand (fast path), so FastAPI does not list the model under components itself."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


_ARROW_BODY = {"schema": {"type": "string", "format": "binary"}}
_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {
            JSON_MEDIA_TYPE: {"schema": _inline_schema(BatchRequest)},
            ARROW_MEDIA_TYPE: _ARROW_BODY,
        },
        "description": "JSON: points per series. Arrow IPC stream: columns `series_id` (text or "
        "dictionary), `timestamp` (epoch seconds or an Arrow timestamp), `value`; any row order. "
        f"At most {MAX_BATCH_POINTS:,} points per batch.",
    }
}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "JSON: one result per series item. Arrow: one row per request row "
        "(`anomaly`, `anomaly_score`, `normalized_score`), per-series facts as JSON in the "
        "schema metadata "
        "`seriesguard.series`. The format follows `Accept`, else the request's.",
        "content": {ARROW_MEDIA_TYPE: _ARROW_BODY},
    },
    415: {"description": "Content-Type is neither JSON nor an Arrow IPC stream."},
}


@router.post(
    "/batch",
    response_model=BatchResponse,
    openapi_extra=_OPENAPI,
    responses=_RESPONSES,
    dependencies=[allow(Permission.PREDICT)],
)
async def predict_batch(request: Request) -> Response:
    """Score many points of many series; see the request body for the two formats."""
    predictor = get_predictor(request)
    arrow_in = _is_arrow_body(request.headers.get("content-type"))
    arrow_out = _answer_in_arrow(request.headers.get("accept"), default=arrow_in)
    read = batch_schemas.read_arrow if arrow_in else batch_schemas.read_json
    blob = await request.body()
    body = await run_in_threadpool(_answer, blob, read, arrow_out, predictor)
    media = ARROW_MEDIA_TYPE if arrow_out else JSON_MEDIA_TYPE
    return Response(content=body, media_type=media, headers={"Vary": "Accept, Content-Type"})


def _answer(
    blob: bytes,
    read: Callable[[bytes], BatchPoints],
    arrow_out: bool,
    predictor: Predictor,
) -> bytes | memoryview:
    started = time.perf_counter()
    scores: BatchScores = score_batch(predictor, read(blob))
    answer = batch_schemas.arrow_answer(scores) if arrow_out else batch_schemas.json_answer(scores)
    count_batch(predictor.stats, scores, seconds=time.perf_counter() - started)
    predictor.history.record_batch(scores.points)  # kept for training (history/)
    return answer


def _is_arrow_body(content_type: str | None) -> bool:
    """True for Arrow, False for JSON (``application/json`` or ``application/*+json``); 415
    for anything else, a missing header included (FastAPI's strict content type)."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == ARROW_MEDIA_TYPE:
        return True
    if media == JSON_MEDIA_TYPE or (media.startswith("application/") and media.endswith("+json")):
        return False
    raise HTTPException(
        status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        f"send the batch as {JSON_MEDIA_TYPE} or {ARROW_MEDIA_TYPE}, not {media or 'no type'}",
    )


def _answer_in_arrow(accept: str | None, *, default: bool) -> bool:
    """Arrow or JSON, whichever ``Accept`` ranks higher (the most specific range naming a
    format gives its quality); a tie, no header or neither being acceptable keeps the
    request's format (RFC 9110 lets a server ignore Accept rather than answer 406)."""
    if not accept:
        return default
    ranges = _media_ranges(accept)
    arrow, json = _quality(ranges, ARROW_MEDIA_TYPE), _quality(ranges, JSON_MEDIA_TYPE)
    return default if arrow == json else arrow > json


def _quality(ranges: dict[str, float], media: str) -> float:
    for candidate in (media, "application/*", "*/*"):
        if candidate in ranges:
            return ranges[candidate]
    return 0.0


def _media_ranges(accept: str) -> dict[str, float]:
    """``"a/b;q=0.5, */*"`` -> ``{"a/b": 0.5, "*/*": 1.0}``."""
    ranges: dict[str, float] = {}
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        ranges[media.lower()] = max(quality, ranges.get(media.lower(), 0.0))
    return ranges
