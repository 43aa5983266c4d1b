"""Training data of a version with its mean, threshold band and flagged points: as a picture
(``/plot``) or as data for a page to draw (``/models/{id}/plot-data``, with recent points)."""

from __future__ import annotations

import sys
from typing import Annotated, Any, Literal

import numpy as np
import orjson
from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.deps import RuntimeDep, allow
from seriesguard.api.fast_json import JSON_MEDIA_TYPE, FastJsonRoute
from seriesguard.api.schemas_plot import PlotDataOut
from seriesguard.core.authz import Permission
from seriesguard.core.catalog import ModelVersion
from seriesguard.core.detectors import detector_from_params
from seriesguard.core.detectors.base import FloatArray
from seriesguard.core.errors import NotFound, Unavailable
from seriesguard.core.series import check_series_id, parse_version, version_label
from seriesguard.plot_data import MAX_RECENT, plot_data
from seriesguard.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["plot"], route_class=FastJsonRoute)
MEDIA = {"png": "image/png", "svg": "image/svg+xml"}
Points = tuple[FloatArray, FloatArray]


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

    model = _version(runtime, series_id, number, series_loc=("query", "series_id"))
    job = runtime.jobs.get(model.job_id) if model.job_id else None
    if job is None:
        raise NotFound(
            f"the training data of {series_id} v{model.version} is not kept here",
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


def _version(
    runtime: Runtime, series_id: str, number: int | None, *, series_loc: tuple[str, ...]
) -> ModelVersion:
    """Version ``number`` of the series; by default its Production version, else its newest."""
    summary, versions = runtime.models.series(series_id, loc=series_loc)
    number = number or summary.production_version or summary.latest_version
    model = next((v for v in versions if v.version == number), None)
    if model is None:
        raise NotFound(
            f"{series_id} has no version {number}",
            rule="version_not_found",
            loc=("query", "version"),
        )
    return model


Recent = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_RECENT,
        description=f"History points after the training window to score, 0-{MAX_RECENT:,}.",
    ),
]


@router.get(
    "/models/{series_id}/plot-data",
    response_model=PlotDataOut,
    dependencies=[allow(Permission.READ_DATA)],
)
async def plot_data_route(
    series_id: str, runtime: RuntimeDep, version: str | None = None, recent: Recent = 500
) -> Response:
    """The training window (reduced to ~2,000 points, spikes and flagged points kept), the
    normal band, and the newest ``recent`` history points after the window, scored by the
    version (default: Production, else the newest) with its threshold band."""
    check_series_id(series_id)
    number = parse_version(version, loc=("query", "version")) if version is not None else None
    document = await run_in_threadpool(_plot_document, runtime, series_id, number, recent)
    return Response(orjson.dumps(document), media_type=JSON_MEDIA_TYPE)


def _plot_document(
    runtime: Runtime, series_id: str, number: int | None, recent: int
) -> dict[str, Any]:
    model = _version(runtime, series_id, number, series_loc=("path", "series_id"))
    notes: list[str] = []
    job = runtime.jobs.get(model.job_id) if model.job_id else None
    training = _training(runtime, job.data_path if job else None, notes)
    if training is None and not notes:
        notes.append(f"the training data of {series_id} v{model.version} is not kept here")
    if job is not None and job.window_end is not None:
        after = job.window_end
    elif training is not None and training[0].size:
        after = float(training[0][-1])
    else:  # without its window, the points since the version was registered
        after = model.created_at
    return plot_data(
        series_id=series_id,
        version_label=version_label(model.version),
        detector=detector_from_params(model.algorithm, model.params),
        training=training,
        recent=_recent(runtime, series_id, after=after, limit=recent),
        notes=notes,
    )


def _training(runtime: Runtime, data_path: str | None, notes: list[str]) -> Points | None:
    if data_path is None:
        return None
    try:
        data = runtime.training.data.load(data_path)
    except NotFound:
        return None
    except Unavailable as exc:  # the rest of the plot is still worth answering
        notes.append(f"the training data could not be read now: {exc.message}")
        return None
    return data.timestamps, data.values


def _recent(runtime: Runtime, series_id: str, *, after: float, limit: int) -> Points:
    if limit < 1:
        return np.zeros(0), np.zeros(0)
    points = runtime.history.store.window(
        series_id=series_id, start=after, end=sys.float_info.max, limit=limit
    )
    return points.timestamps, points.values
