"""Single-point inference (seed flow 4). Never blocks on MLflow for a warm series."""

from __future__ import annotations

import math

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.deps import PredictorDep
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.schemas import (
    ModelInfoOut,
    PredictRequest,
    PredictResponse,
)
from seriesguard.core.errors import InvalidInput, NotFound
from seriesguard.core.series import check_series_id
from seriesguard.core.validation import parse_timestamp
from seriesguard.serving.predictor import Predictor
from seriesguard.serving.scorer import ModelInfo, Scorer

router = APIRouter(prefix="/api/v1/predict", tags=["predict"], route_class=FastJsonRoute)


def model_info_out(info: ModelInfo) -> ModelInfoOut:
    return ModelInfoOut(
        version=info.version, stage=info.stage, type=info.type, loaded_from=info.loaded_from
    )


def resolve_scorer(predictor: Predictor, series_id: str) -> Scorer:
    scorer = predictor.scorer(series_id)
    _check_fallback(predictor, series_id, scorer)
    return scorer


def _check_fallback(predictor: Predictor, series_id: str, scorer: Scorer) -> None:
    if scorer.info.stage == "fallback" and not predictor.fallback_enabled:
        raise NotFound(
            f"series {series_id!r} has no production model and the fallback is disabled",
            rule="model_not_found",
            loc=("path", "series_id"),
        )


@router.post("/{series_id}", response_model=PredictResponse)
async def predict(series_id: str, body: PredictRequest, predictor: PredictorDep) -> PredictResponse:
    # A resident model is scored right here on the event loop (microseconds, no I/O); only a
    # miss walks the rest of the chain (DB, MLflow, disk) in the thread pool.
    check_series_id(series_id)
    if not math.isfinite(body.value):
        raise InvalidInput("value must be finite", rule="finite_values", loc=("body", "value"))
    timestamp = parse_timestamp(body.timestamp, loc=("body", "timestamp"))
    scorer = predictor.resident_scorer(series_id)
    if scorer is None:
        scorer = await run_in_threadpool(predictor.load_scorer, series_id)
        _check_fallback(predictor, series_id, scorer)
    anomaly, score = scorer.score_one(body.value, timestamp)
    return PredictResponse(
        series_id=series_id,
        timestamp=timestamp,
        anomaly=anomaly,
        anomaly_score=score,
        threshold=scorer.detector.threshold,
        model_info=model_info_out(scorer.info),
        confidence=scorer.info.confidence,
    )
