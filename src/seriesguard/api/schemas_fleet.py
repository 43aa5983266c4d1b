"""Bodies of the dashboard's own reads: who am I (``/me``) and the fleet overview (``/fleet``)."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field

from seriesguard.api.convert import iso, label
from seriesguard.api.schemas_monitoring import DriftRunOut, run_out
from seriesguard.api.schemas_promotions import PromotionOut, promotion_out
from seriesguard.core.authz import Permission, Principal
from seriesguard.core.monitoring import DriftFinding, DriftRun
from seriesguard.monitoring.overview import FleetOverview


class MeOut(BaseModel):
    subject: str | None = Field(description="The token's subject; `local` without auth.")
    roles: list[str]
    permissions: list[str] = Field(
        description="What the caller may do, sorted (values of Permission; `public` left out)."
    )
    authenticated: bool = Field(description="A verified token came with the request.")
    auth_enabled: bool = Field(
        description="The server wants tokens: a page needs a login when this is true and "
        "authenticated is false."
    )


def me_out(principal: Principal, *, auth_enabled: bool, anonymous: bool) -> MeOut:
    """``anonymous``: no token came with a request to a server that wants one."""
    if anonymous:
        return MeOut(
            subject=None, roles=[], permissions=[], authenticated=False, auth_enabled=auth_enabled
        )
    return MeOut(
        subject=principal.subject,
        roles=sorted(principal.roles),
        permissions=sorted(p.value for p in principal.permissions if p is not Permission.PUBLIC),
        authenticated=principal.authenticated,
        auth_enabled=auth_enabled,
    )


class SeriesCounts(BaseModel):
    total: int
    production: int
    staging: int
    canary: int
    shadow: int
    without_production: int


class QueueOut(BaseModel):
    name: str
    ready_messages: int | None = Field(description="None when the broker could not be asked.")
    broker_error: str | None


class AnomalyRateOut(BaseModel):
    window: str
    predictions: int = Field(description="Answered predictions (requests less errors).")
    anomalies: int
    rate: float | None = Field(description="anomalies / predictions; None without predictions.")


class DriftAlertOut(BaseModel):
    series_id: str
    version: str
    kind: str = Field(description="data (PSI), concept (anomaly rate) or precision")
    statistic: float | None
    threshold: float | None
    sample_size: int
    details: dict[str, Any]
    run_id: str
    checked_at: str | None = Field(description="When the run that found it ended.")


class FleetDriftOut(BaseModel):
    last_run: DriftRunOut | None = Field(description="The latest finished fleet drift check.")
    alerts: list[DriftAlertOut] = Field(description="What it found drifted (at most 20).")
    alerts_total: int


class FleetOut(BaseModel):
    generated_at: str
    aggregates_as_of: str = Field(
        description="When series, versions_by_stage and anomaly_rate were taken: they scan "
        "whole tables, so they are kept in memory and refreshed in the background once older "
        "than fleet_overview_max_age_seconds (the rest is read on every request)."
    )
    series: SeriesCounts
    versions_by_stage: dict[str, int]
    jobs: dict[str, int] = Field(description="Training jobs in each state (every state named).")
    queue: QueueOut
    anomaly_rate: AnomalyRateOut
    rollouts: list[PromotionOut] = Field(description="Unfinished promotions, newest first (50).")
    rollouts_total: int
    drift: FleetDriftOut
    rollbacks: list[PromotionOut] = Field(
        description="Promotions that ended rolled back or rejected, newest first (10)."
    )


def _finite(number: float) -> float | None:
    return number if math.isfinite(number) else None


def alert_out(finding: DriftFinding, run: DriftRun) -> DriftAlertOut:
    details = {k: _finite(v) if isinstance(v, float) else v for k, v in finding.details.items()}
    return DriftAlertOut(
        series_id=finding.series_id,
        version=label(finding.version) or "",
        kind=finding.kind,
        statistic=_finite(finding.statistic),
        threshold=_finite(finding.threshold),
        sample_size=finding.sample_size,
        details=details,
        run_id=run.id,
        checked_at=iso(run.finished_at),
    )


def fleet_out(fleet: FleetOverview, *, window: str) -> FleetOut:
    now = fleet.generated_at
    run = fleet.drift.last_run
    return FleetOut(
        generated_at=iso(now) or "",
        aggregates_as_of=iso(fleet.aggregates_at) or "",
        series=SeriesCounts(**fleet.series),
        versions_by_stage=fleet.versions_by_stage,
        jobs=fleet.jobs,
        queue=QueueOut(
            name=fleet.queue.name,
            ready_messages=fleet.queue.ready_messages,
            broker_error=fleet.queue.broker_error,
        ),
        anomaly_rate=AnomalyRateOut(
            window=window,
            predictions=fleet.anomalies.predictions,
            anomalies=fleet.anomalies.anomalies,
            rate=fleet.anomalies.rate,
        ),
        rollouts=[promotion_out(p, now=now) for p in fleet.rollouts],
        rollouts_total=fleet.rollouts_total,
        drift=FleetDriftOut(
            last_run=None if run is None else run_out(run),
            alerts=[] if run is None else [alert_out(f, run) for f in fleet.drift.alerts],
            alerts_total=fleet.drift.total,
        ),
        rollbacks=[promotion_out(p, now=now) for p in fleet.rollbacks],
    )
