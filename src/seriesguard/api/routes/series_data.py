"""Bulk points into the history store, for training on a window (``config.window_hours``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.convert import iso
from seriesguard.api.deps import allow
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.schemas_history import SeriesDataOut, SeriesDataRequest
from seriesguard.core.authz import Permission
from seriesguard.core.series import check_series_id
from seriesguard.history.service import HistoryService

router = APIRouter(prefix="/api/v1/series", tags=["history"], route_class=FastJsonRoute)


@router.post(
    "/{series_id}/data", response_model=SeriesDataOut, dependencies=[allow(Permission.TRAIN)]
)
async def send_data(series_id: str, body: SeriesDataRequest, request: Request) -> SeriesDataOut:
    """Store points of one series (idempotent: points already stored are counted as
    duplicates and left unchanged). Points older than the retention are refused (422)."""
    check_series_id(series_id, loc=("path", "series_id"))
    history: HistoryService = request.app.state.runtime.history.service
    result = await run_in_threadpool(
        lambda: history.ingest(series_id=series_id, timestamps=body.timestamps, values=body.values)
    )
    return SeriesDataOut(
        series_id=result.series_id,
        accepted=result.accepted,
        duplicates=result.duplicates,
        first=iso(result.first),
        last=iso(result.last),
        retained_until=iso(result.retained_until),
    )
