"""The alerts a promotion's transitions send: who should hear of a rollback, a rejection, a
completion, and with which figures."""

from __future__ import annotations

from seriesguard.core.rollout import Transition
from seriesguard.notify.base import Alert, Severity


def alert_for(transition: Transition) -> Alert | None:
    """The alert a saved transition deserves: a gate's rollback and a shadow's rejection
    page someone, a user's rollback warns, a completion informs."""
    event, p = transition.event, transition.promotion
    if event is None:
        return None
    if event.kind == "gate_failed":
        kind, severity = "canary_rolled_back", Severity.ERROR
        summary = f"{p.series_id}: canary v{p.version} rolled back. {p.reason}"
    elif event.kind == "shadow_rejected":
        kind, severity = "shadow_rejected", Severity.ERROR
        summary = f"{p.series_id}: shadow v{p.version} rejected. {p.reason}"
    elif event.kind == "rolled_back_by_user":
        kind, severity = "promotion_rolled_back", Severity.WARNING
        summary = f"{p.series_id}: {p.strategy.value} v{p.version} rolled back. {p.reason}"
    elif event.kind == "completed":
        kind, severity = "promotion_completed", Severity.INFO
        summary = f"{p.series_id}: v{p.version} is Production after its {p.strategy.value}"
    else:
        return None
    details: dict[str, object] = {
        "promotion_id": p.id,
        "version": p.version,
        "champion_version": p.champion_version,
        "strategy": p.strategy.value,
        "state": p.state.value,
        "percentage": p.percentage,
        "reason": p.reason,
    }
    if p.verdict is not None:
        details["verdict"] = p.verdict.to_json()
    return Alert(
        kind=kind,
        severity=severity,
        summary=summary,
        series_id=p.series_id,
        details=details,
        dedup_key=f"promotion:{p.id}:{event.kind}",
        at=event.at,
    )
