"""Health, liveness and readiness (the seed's probe paths)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from seriesguard import __version__
from seriesguard.api.deps import RuntimeDep, allow
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.core.authz import Permission

router = APIRouter(tags=["health"], route_class=FastJsonRoute)


@router.get("/health", dependencies=[allow(Permission.PUBLIC)])
async def health(runtime: RuntimeDep) -> dict[str, Any]:
    return {
        "status": "ok" if runtime.ready else "starting",
        "version": __version__,
        "roles": sorted(runtime.roles),
        "models_in_memory": len(runtime.predictor.table),
        # Open breakers do not make a process unready: a predictor serves on without MLflow,
        # jobs wait in the queue. They are here for operators and alerting.
        "breakers": {
            b.name: {
                "state": b.state.value,
                "consecutive_failures": b.consecutive_failures,
                "opened_count": b.opened_count,
                "last_error": b.last_error,
            }
            for b in runtime.breakers()
        },
    }


@router.get("/api/v1/liveness", dependencies=[allow(Permission.PUBLIC)])
async def liveness() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/api/v1/readiness", dependencies=[allow(Permission.PUBLIC)])
async def readiness(runtime: RuntimeDep) -> JSONResponse:
    """Ready only after start-up (for a predictor, the warm load): a pod must not take
    traffic with an empty model table."""
    ready = runtime.ready
    return JSONResponse(
        {
            "status": "ready" if ready else "warming",
            "models_in_memory": len(runtime.predictor.table),
        },
        status_code=200 if ready else 503,
    )
