"""Per-series metrics and drift (seed: ``GET /models/{id}/metrics?window=24h``), ground
truth, and the fleet drift check's runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError

from seriesguard.api.audit import record_action
from seriesguard.api.deps import AuditDep, RuntimeDep, allow
from seriesguard.api.fast_json import JSON_MEDIA_TYPE, NO_BODY, FastJsonRoute, json_body
from seriesguard.api.paging import Limit, Offset
from seriesguard.api.schemas_monitoring import (
    DriftRunDetail,
    DriftRunOut,
    DriftRunPage,
    FeedbackAccepted,
    LabelIn,
    finding_out,
    run_out,
)
from seriesguard.core.audit import AuditAction
from seriesguard.core.authz import Permission, Principal
from seriesguard.core.errors import NotFound
from seriesguard.core.monitoring import LabelledPoint, parse_window
from seriesguard.core.series import check_series_id
from seriesguard.core.validation import parse_timestamp

router = APIRouter(prefix="/api/v1", tags=["monitoring"], route_class=FastJsonRoute)

Window = Annotated[
    str,
    Query(
        max_length=8,
        description="How far back: whole hours or days, 1h to 90d (statistics are hourly).",
    ),
]


@router.get("/models/{series_id}/metrics", dependencies=[allow(Permission.READ)])
async def series_metrics(series_id: str, runtime: RuntimeDep, window: Window = "24h") -> Any:
    """Request rate, error rate, latency percentiles (server side) and anomaly rate summed
    over every predictor, precision/recall against ground truth, and the drift verdicts
    (``drift_detection``) of the production version with their evidence."""
    check_series_id(series_id)
    seconds = parse_window(window)
    return await run_in_threadpool(
        lambda: runtime.monitoring.series_metrics(series_id=series_id, window_seconds=seconds)
    )


# One label or a list: read by hand, so an error names the place in the body as sent
# (FastAPI's union validation would name the union's members instead).
HAND_READ_BODIES = (LabelIn,)
_ONE, _MANY = TypeAdapter(LabelIn), TypeAdapter(list[LabelIn])
FEEDBACK_BODY_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One label or a list of them: {timestamp, is_anomaly}.",
        "content": {
            JSON_MEDIA_TYPE: {
                "schema": {
                    "anyOf": [
                        {"$ref": "#/components/schemas/LabelIn"},
                        {"type": "array", "items": {"$ref": "#/components/schemas/LabelIn"}},
                    ]
                }
            }
        },
    }
}


def read_labels(body: Any) -> list[LabelledPoint]:
    """The labels of a feedback body, or the 422 naming the rule and the place."""
    many = isinstance(body, list)
    if body is NO_BODY:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    try:
        labels = _MANY.validate_python(body) if many else [_ONE.validate_python(body)]
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
    return [
        LabelledPoint(
            timestamp=parse_timestamp(
                label.timestamp,
                loc=("body", index, "timestamp") if many else ("body", "timestamp"),
            ),
            is_anomaly=label.is_anomaly,
        )
        for index, label in enumerate(labels)
    ]


@router.post(
    "/feedback/{series_id}", response_model=FeedbackAccepted, openapi_extra=FEEDBACK_BODY_DOC
)
async def send_feedback(
    series_id: str,
    runtime: RuntimeDep,
    audit: AuditDep,
    request: Request,
    caller: Annotated[Principal, allow(Permission.FEEDBACK)],
) -> FeedbackAccepted:
    """Ground truth for points of a series, joined to the predictions made at those
    timestamps: per-version precision, recall and F1 in the metrics."""
    raw = await request.body()
    points = read_labels(json_body(raw, request.headers.get("content-type")))
    check_series_id(series_id)
    subject = caller.subject if caller.authenticated else None
    result = await run_in_threadpool(
        lambda: runtime.monitoring.record_feedback(
            series_id=series_id, points=points, submitted_by=subject
        )
    )
    await record_action(
        audit,
        request,
        caller,
        action=AuditAction.FEEDBACK,
        series_id=series_id,
        version=result["version"],
        details={"labels": result["accepted"]},
    )
    return FeedbackAccepted(**result)


@router.get("/drift/runs", response_model=DriftRunPage, dependencies=[allow(Permission.READ)])
async def list_drift_runs(runtime: RuntimeDep, limit: Limit = 20) -> DriftRunPage:
    """Fleet drift checks, newest first."""
    runs = await run_in_threadpool(lambda: runtime.drift_runs.list_runs(limit=limit))
    return DriftRunPage(items=[run_out(run) for run in runs])


@router.get(
    "/drift/runs/{run_id}", response_model=DriftRunDetail, dependencies=[allow(Permission.READ)]
)
async def get_drift_run(
    run_id: str, runtime: RuntimeDep, limit: Limit = 100, offset: Offset = 0
) -> DriftRunDetail:
    """One check and the series it found drifted (with the evidence)."""
    run = await run_in_threadpool(runtime.drift_runs.get, run_id[:36])
    if run is None:
        raise NotFound(
            f"no drift run {run_id!r}", rule="drift_run_not_found", loc=("path", "run_id")
        )
    findings = await run_in_threadpool(
        lambda: runtime.drift_runs.findings(run_id=run.id, limit=limit, offset=offset)
    )
    return DriftRunDetail(
        run=DriftRunOut(**run_out(run).model_dump()),
        findings=[finding_out(f) for f in findings],
        limit=limit,
        offset=offset,
    )
