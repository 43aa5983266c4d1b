"""The fleet at a glance: series and versions by stage, jobs, the queue, the anomaly rate,
rollouts in progress, the latest drift alerts and recent rollbacks, in one document."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.deps import allow
from seriesguard.api.fast_json import FastJsonRoute
from seriesguard.api.routes.monitoring import Window
from seriesguard.api.schemas_fleet import FleetOut, fleet_out
from seriesguard.core.authz import Permission
from seriesguard.core.monitoring import parse_window
from seriesguard.monitoring.overview import FleetOverviewService
from seriesguard.runtime import Runtime

router = APIRouter(prefix="/api/v1", tags=["monitoring"], route_class=FastJsonRoute)


def overview_service(runtime: Runtime) -> FleetOverviewService:
    return FleetOverviewService(
        catalog=runtime.catalog,
        stats=runtime.monitoring_parts.retention.stats,
        jobs=runtime.jobs,
        queue=runtime.queue,
        queue_name=runtime.settings.broker_queue,
        promotions=runtime.promotions,
        drift_runs=runtime.drift_runs,
        aggregates_max_age=runtime.settings.fleet_overview_max_age_seconds,
    )


def app_overview(request: Request) -> FleetOverviewService:
    """One service per app: its snapshots of the aggregates outlive a request."""
    service: FleetOverviewService | None = getattr(request.app.state, "fleet_overview", None)
    if service is None:  # two first requests may both build one: the last one stays, harmless
        service = overview_service(request.app.state.runtime)
        request.app.state.fleet_overview = service
    return service


@router.get("/fleet", response_model=FleetOut, dependencies=[allow(Permission.READ)])
async def fleet(request: Request, window: Window = "24h") -> FleetOut:
    """Counts from the catalog and the job table, the broker's ready messages (its error
    when down, not a 5xx), the fleet's anomaly rate over ``window``, unfinished promotions
    (50 newest), the latest finished drift run with what it found drifted (20), and the 10
    newest promotions that ended rolled back or rejected. The counts and the anomaly rate are
    at most ``fleet_overview_max_age_seconds`` old (``aggregates_as_of`` says when)."""
    seconds = parse_window(window)
    service = app_overview(request)
    overview = await run_in_threadpool(lambda: service.overview(window_seconds=seconds))
    return fleet_out(overview, window=window)
