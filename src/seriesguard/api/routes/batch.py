"""Batch inference: many points of many series in one request (seed flow 4)."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.deps import PredictorDep
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.routes.predict import model_info_out, resolve_scorer
from seriesguard.api.schemas import BatchRequest, BatchResponse, BatchResult
from seriesguard.core.errors import InvalidInput
from seriesguard.core.series import check_series_id
from seriesguard.core.validation import parse_timestamps
from seriesguard.serving.predictor import Predictor

# Registered before the single-point router: "/batch" must not be taken for a series id.
router = APIRouter(prefix="/api/v1/predict", tags=["predict"], route_class=FastJsonRoute)


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
        scorer = resolve_scorer(predictor, item.series_id)
        scores, threshold = scorer.score_many(values, timestamps)
        results.append(
            BatchResult(
                series_id=item.series_id,
                anomalies=(scores > threshold).tolist(),
                anomaly_scores=scores.tolist(),
                threshold=threshold,
                model_info=model_info_out(scorer.info),
                confidence=scorer.info.confidence,
            )
        )
        points += len(values)
    return BatchResponse(results=results, points=points)
