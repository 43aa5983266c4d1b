"""Inference: single point and batch (seed flow 4). Never blocks on MLflow for a warm series."""

from __future__ import annotations

import math

import numpy as np
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.deps import PredictorDep
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.schemas import (
    BatchRequest,
    BatchResponse,
    BatchResult,
    ModelInfoOut,
    PredictRequest,
    PredictResponse,
)
from seriesguard.core.errors import InvalidInput, NotFound
from seriesguard.core.series import check_series_id
from seriesguard.core.validation import parse_timestamp, parse_timestamps
from seriesguard.serving.predictor import ModelInfo, Predictor, Scorer

router = APIRouter(prefix="/api/v1/predict", tags=["predict"], route_class=FastJsonRoute)


def _info(info: ModelInfo) -> ModelInfoOut:
    return ModelInfoOut(
        version=info.version, stage=info.stage, type=info.type, loaded_from=info.loaded_from
    )


def _resolve(predictor: Predictor, series_id: str) -> Scorer:
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


@router.post("/batch", response_model=BatchResponse)
async def predict_batch(body: BatchRequest, predictor: PredictorDep) -> BatchResponse:
    return await run_in_threadpool(_score_batch, body, predictor)


def _score_batch(body: BatchRequest, predictor: Predictor) -> BatchResponse:
    results: list[BatchResult] = []
    points = 0
    for index, item in enumerate(body.series):
        loc = ("body", "series", index)
        check_series_id(item.series_id, loc=(*loc, "series_id"))
        if len(item.timestamps) != len(item.values):
            raise InvalidInput(
                f"series[{index}] has {len(item.timestamps)} timestamps and "
                f"{len(item.values)} values",
                rule="length_mismatch",
                loc=(*loc, "timestamps"),
            )
        values = np.asarray(item.values, dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise InvalidInput(
                f"series[{index}].values[{int(bad[0])}] is not finite",
                rule="finite_values",
                loc=(*loc, "values", int(bad[0])),
            )
        try:
            timestamps = parse_timestamps(item.timestamps)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, rule=exc.rule, loc=(*loc, *exc.loc[1:])) from None
        scorer = _resolve(predictor, item.series_id)
        scores, threshold = scorer.score_many(values, timestamps)
        results.append(
            BatchResult(
                series_id=item.series_id,
                anomalies=(scores > threshold).tolist(),
                anomaly_scores=scores.tolist(),
                threshold=threshold,
                model_info=_info(scorer.info),
                confidence=scorer.info.confidence,
            )
        )
        points += len(values)
    return BatchResponse(results=results, points=points)


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
        model_info=_info(scorer.info),
        confidence=scorer.info.confidence,
    )
