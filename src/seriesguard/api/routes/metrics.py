"""``GET /metrics``: the Prometheus exposition of the whole server (every worker process of
it, merged; see :mod:`seriesguard.observability.metrics_share`).

Public like the probes: Prometheus scrapes without a token, and nothing here is per series.
Not in the OpenAPI schema: it is for the monitoring system, not for API clients. A plain
function, so FastAPI runs it in the thread pool: it reads the other processes' snapshot files.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header
from starlette.responses import Response

from seriesguard.api.deps import RuntimeDep, allow
from seriesguard.core.authz import Permission

router = APIRouter(tags=["metrics"])


@router.get("/metrics", dependencies=[allow(Permission.PUBLIC)], include_in_schema=False)
def metrics(runtime: RuntimeDep, accept: Annotated[str | None, Header()] = None) -> Response:
    body, content_type = runtime.metrics_exporter.render(accept)
    return Response(content=body, media_type=content_type)
