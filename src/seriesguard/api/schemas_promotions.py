"""Bodies of the canary and shadow promotion endpoints, and their conversion from the domain."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from seriesguard.api.convert import iso, label
from seriesguard.api.schemas import Strict
from seriesguard.core.rollout import Event, Promotion, ShadowConfig, State
from seriesguard.core.rollout_progress import rollout_progress


class PromotionAction(Strict):
    reason: str | None = Field(
        default=None, max_length=1000, description="Why; kept on the promotion and its event."
    )


class PromotionStarted(BaseModel):
    """The 202 of a canary or shadow promote: the traffic is already split."""

    promotion_id: str
    series_id: str
    version: str
    champion_version: str | None
    strategy: str
    state: str
    current_percentage: float = Field(description="Share of requests the new version answers.")
    next_increment_at: str | None = Field(
        description="When the canary's next step is due (ISO-8601 UTC); None in shadow."
    )
    verdict_at: str | None = Field(description="When a shadow's verdict is due; None in canary.")
    status_url: str


class PromotionEventOut(BaseModel):
    at: str
    kind: str = Field(description="started, step_passed, waiting, gate_failed, paused, ...")
    state: str
    percentage: float
    details: dict[str, Any]


class PromotionOut(BaseModel):
    promotion_id: str
    series_id: str
    version: str
    champion_version: str | None
    strategy: str
    state: str
    current_percentage: float
    progress: float = Field(
        ge=0.0,
        le=1.0,
        description="How far it has come, 0-1: canary = current_percentage / 100; shadow = "
        "time observed / duration; completed = 1; rolled back or rejected = 0.",
    )
    config: dict[str, Any] = Field(description="The canary_config or shadow_config in force.")
    step: int = Field(description="Transitions so far (the compare-and-set token).")
    created_at: str
    updated_at: str
    step_started_at: str
    next_increment_at: str | None
    verdict_at: str | None
    finished_at: str | None
    reason: str | None
    paused_from: str | None
    created_by: str | None
    last_gate: dict[str, Any] | None = Field(
        description="The last gate result: outcome, reasons, figures (error_rate, p99_ms, "
        "anomaly_rate, champion_anomaly_rate, deviation, p_value, agreement, ...)."
    )
    status_url: str
    events: list[PromotionEventOut] | None = Field(
        default=None, description="Every transition, oldest first (GET of one promotion only)."
    )


class PromotionPage(BaseModel):
    items: list[PromotionOut]
    total: int
    limit: int
    offset: int


def status_url(promotion_id: str) -> str:
    return f"/api/v1/promotions/{promotion_id}"


def _due(p: Promotion) -> tuple[str | None, str | None]:
    """(next_increment_at, verdict_at): a shadow's next action is its verdict."""
    at = iso(p.next_action_at)
    in_shadow = p.state is State.SHADOW or (
        p.state is State.PAUSED and p.resumes_to is State.SHADOW
    )
    return (None, at) if in_shadow else (at, None)


def started_out(p: Promotion) -> PromotionStarted:
    increment, verdict = _due(p)
    return PromotionStarted(
        promotion_id=p.id,
        series_id=p.series_id,
        version=label(p.version) or "",
        champion_version=label(p.champion_version),
        strategy=p.strategy.value,
        state=p.state.value,
        current_percentage=p.percentage,
        next_increment_at=increment,
        verdict_at=verdict,
        status_url=status_url(p.id),
    )


def promotion_out(
    p: Promotion, events: list[Event] | None = None, *, now: float | None = None
) -> PromotionOut:
    increment, verdict = _due(p)
    config = p.config.to_request()
    return PromotionOut(
        promotion_id=p.id,
        series_id=p.series_id,
        version=label(p.version) or "",
        champion_version=label(p.champion_version),
        strategy=p.strategy.value,
        state=p.state.value,
        current_percentage=p.percentage,
        progress=rollout_progress(p, now=time.time() if now is None else now),
        config={"shadow_config" if isinstance(p.config, ShadowConfig) else "canary_config": config},
        step=p.step,
        created_at=iso(p.created_at) or "",
        updated_at=iso(p.updated_at) or "",
        step_started_at=iso(p.step_started_at) or "",
        next_increment_at=increment,
        verdict_at=verdict,
        finished_at=iso(p.finished_at),
        reason=p.reason,
        paused_from=p.resumes_to.value if p.state is State.PAUSED else None,
        created_by=p.created_by,
        last_gate=None if p.verdict is None else p.verdict.to_json(),
        status_url=status_url(p.id),
        events=None if events is None else [event_out(e) for e in events],
    )


def event_out(event: Event) -> PromotionEventOut:
    return PromotionEventOut(
        at=iso(event.at) or "",
        kind=event.kind,
        state=event.state.value,
        percentage=event.percentage,
        details=dict(event.details),
    )
