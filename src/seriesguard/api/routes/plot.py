"""Training data of a version with its mean, threshold band and flagged points."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.deps import RuntimeDep, allow
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.core.authz import Permission
from seriesguard.core.detectors import detector_from_params
from seriesguard.core.errors import NotFound
from seriesguard.core.series import check_series_id, parse_version, version_label
from seriesguard.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["plot"], route_class=FastJsonRoute)
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


@router.get(
    "/plot",
    response_class=Response,
    responses={200: {"content": {media: {} for media in MEDIA.values()}}},
    dependencies=[allow(Permission.READ_DATA)],
)
async def plot(
    runtime: RuntimeDep,
    series_id: str,
    version: str | None = None,
    fmt: Annotated[Literal["png", "svg"], Query(alias="format")] = "png",
) -> Response:
    check_series_id(series_id, loc=("query", "series_id"))
    number = parse_version(version, loc=("query", "version")) if version is not None else None
    image = await run_in_threadpool(_render, runtime, series_id, number, fmt)
    return Response(image, media_type=MEDIA[fmt])


def _render(
    runtime: Runtime, series_id: str, number: int | None, fmt: Literal["png", "svg"]
) -> bytes:
    from seriesguard.plotting import render_training_plot  # matplotlib loads on first plot only

    summary, versions = runtime.models.series(series_id, loc=("query", "series_id"))
    number = number or summary.production_version or summary.latest_version
    model = next((v for v in versions if v.version == number), None)
    if model is None:
        raise NotFound(
            f"{series_id} has no version {number}",
            rule="version_not_found",
            loc=("query", "version"),
        )
    job = runtime.jobs.get(model.job_id) if model.job_id else None
    if job is None:
        raise NotFound(
            f"the training data of {series_id} v{number} is not kept here",
            rule="training_data_not_found",
            loc=("query", "version"),
        )
    data = runtime.training.data.load(job.data_path)
    return render_training_plot(
        series_id=series_id,
        version_label=version_label(model.version),
        timestamps=data.timestamps,
        values=data.values,
        detector=detector_from_params(model.algorithm, model.params),
        fmt=fmt,
    )
