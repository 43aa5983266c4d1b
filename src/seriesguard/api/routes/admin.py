"""Operator actions on the predictor."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.convert import label
from seriesguard.api.deps import PredictorDep
from seriesguard.core.series import check_series_id

router = APIRouter(prefix="/api/v1/admin", tags=["admin"])


@router.post("/reload/{series_id}")
async def reload(series_id: str, predictor: PredictorDep) -> dict[str, Any]:
    """Eager invalidation: drop the series from memory and load its production model now."""
    check_series_id(series_id)
    model = await run_in_threadpool(predictor.reload, series_id)
    return {
        "series_id": series_id,
        "reloaded": model is not None,
        "version": label(model.version) if model else None,
        "loaded_from": model.origin if model else None,
    }
