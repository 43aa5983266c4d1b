"""Promotion state machines: canary steps and shadow verdicts, pure and driven by ``now``.

A promotion moves the challenger version of one series towards Production::

    shadow --pass--> canary 5 -> 20 -> ... -> 95 -> 100 --pass--> completing -> completed
      |  \\--fail--> rejecting -> rejected        |
      |                                           +--fail (any time)--> rolling_back -> rolled_back
      +-- pause/resume, rollback by a user: from shadow, canary or paused

The ``*ing`` states are decisions whose effects (registry aliases, serving weights) the
executor still has to apply; :func:`finish` records that it did. Applying a decision twice
is harmless: a pending state never changes under :func:`advance`, and every transition adds
1 to ``step``, the token the store compares-and-sets on. No I/O here: the caller passes the
clock and the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from seriesguard.core.errors import Conflict
from seriesguard.core.rollout_config import (
    FINAL,
    MAX_STEPS,
    PENDING,
    RUNNING,
    SECONDS_PER_HOUR,
    THEN_CHOICES,
    CanaryConfig,
    ShadowConfig,
    State,
    Strategy,
    config_from_json,
)
from seriesguard.core.rollout_gate import (
    FAIL,
    PASS,
    WAIT,
    ArmCounts,
    CanaryPolicy,
    Evidence,
    GateResult,
    ShadowPolicy,
    judge_canary,
    judge_shadow,
)

__all__ = [
    "FAIL",
    "FINAL",
    "MAX_STEPS",
    "PASS",
    "PENDING",
    "RUNNING",
    "SECONDS_PER_HOUR",
    "THEN_CHOICES",
    "WAIT",
    "ArmCounts",
    "CanaryConfig",
    "CanaryPolicy",
    "Event",
    "Evidence",
    "GateResult",
    "Promotion",
    "ShadowConfig",
    "ShadowPolicy",
    "State",
    "Strategy",
    "Transition",
    "advance",
    "baseline_taken",
    "config_from_json",
    "finish",
    "judge_canary",
    "judge_shadow",
    "pause",
    "resume",
    "rollback",
    "start_canary",
    "start_shadow",
]

_FINISHED_BY = {
    State.COMPLETING: (State.COMPLETED, "completed"),
    State.ROLLING_BACK: (State.ROLLED_BACK, "rolled_back"),
    State.REJECTING: (State.REJECTED, "rejected"),
}


# --- promotions ------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    kind: str
    at: float
    state: State
    percentage: float
    details: Mapping[str, object]


@dataclass(frozen=True)
class Promotion:
    """One promotion. ``config`` is the CanaryConfig while in canary (also after a shadow
    passed), the ShadowConfig before.

    ``step_started_at``: when the current canary step began; in shadow, when the shadow
    period began, moved forward by the time spent paused, so the verdict is always due at
    ``step_started_at + duration``.
    """

    id: str
    series_id: str
    version: int
    champion_version: int | None
    strategy: Strategy
    state: State
    percentage: float
    config: CanaryConfig | ShadowConfig
    step: int
    step_started_at: float
    next_action_at: float | None
    created_at: float
    updated_at: float
    finished_at: float | None = None
    reason: str | None = None
    verdict: GateResult | None = None
    paused_state: State | None = None
    needs_baseline: bool = True
    created_by: str | None = None

    @property
    def resumes_to(self) -> State:
        """The state resume goes back to; derived from the config when the store kept no
        ``paused_state`` (a ShadowConfig is only held before the shadow passed)."""
        if self.paused_state is not None:
            return self.paused_state
        return State.SHADOW if isinstance(self.config, ShadowConfig) else State.CANARY


@dataclass(frozen=True)
class Transition:
    promotion: Promotion
    event: Event | None  # None: nothing changed, nothing to write


def _unchanged(p: Promotion) -> Transition:
    return Transition(p, None)


def _move(
    p: Promotion, kind: str, *, now: float, details: Mapping[str, object], **changes: Any
) -> Transition:
    """Apply ``changes`` as one transition: ``step`` + 1, ``updated_at`` = now, one event."""
    moved = replace(p, step=p.step + 1, updated_at=now, **changes)
    event = Event(kind, now, moved.state, moved.percentage, dict(details))
    return Transition(moved, event)


def start_canary(
    *,
    promotion_id: str,
    series_id: str,
    version: int,
    champion_version: int | None,
    config: CanaryConfig,
    now: float,
    created_by: str | None = None,
) -> Transition:
    p = Promotion(
        id=promotion_id,
        series_id=series_id,
        version=version,
        champion_version=champion_version,
        strategy=Strategy.CANARY,
        state=State.CANARY,
        percentage=min(100.0, config.initial_percentage),
        config=config,
        step=0,
        step_started_at=now,
        next_action_at=now + config.increment_interval_seconds,
        created_at=now,
        updated_at=now,
        created_by=created_by,
    )
    details = {"strategy": "canary", "config": config.to_json(), "by": created_by}
    return Transition(p, Event("started", now, p.state, p.percentage, details))


def start_shadow(
    *,
    promotion_id: str,
    series_id: str,
    version: int,
    champion_version: int | None,
    config: ShadowConfig,
    now: float,
    created_by: str | None = None,
) -> Transition:
    p = Promotion(
        id=promotion_id,
        series_id=series_id,
        version=version,
        champion_version=champion_version,
        strategy=Strategy.SHADOW,
        state=State.SHADOW,
        percentage=0.0,
        config=config,
        step=0,
        step_started_at=now,
        next_action_at=now + config.duration_seconds,
        created_at=now,
        updated_at=now,
        created_by=created_by,
    )
    details = {"strategy": "shadow", "config": config.to_json(), "by": created_by}
    return Transition(p, Event("started", now, p.state, p.percentage, details))


def advance(
    p: Promotion,
    *,
    now: float,
    evidence: Evidence | None,
    canary: CanaryPolicy,
    shadow: ShadowPolicy,
) -> Transition:
    """One look at a running promotion with the current step's evidence.

    No change: when paused, pending or finished; when ``evidence`` is None (stats
    unreadable); and while ``needs_baseline`` (evidence before the baseline snapshot would
    be the version's whole history, not the step's).
    """
    if p.state not in RUNNING or evidence is None or p.needs_baseline:
        return _unchanged(p)
    if p.state is State.CANARY:
        return _advance_canary(p, now=now, result=judge_canary(evidence, canary))
    return _advance_shadow(p, now=now, result=judge_shadow(evidence, shadow))


def _canary_config(p: Promotion) -> CanaryConfig:
    config = p.config
    return config.canary if isinstance(config, ShadowConfig) else config


def _waiting(p: Promotion, now: float, result: GateResult) -> Transition:
    """A due step without enough traffic stays; one "waiting" event, not one per look."""
    if p.verdict is not None and p.verdict.outcome == WAIT:
        return _unchanged(p)
    return _move(p, "waiting", now=now, details={"verdict": result.to_json()}, verdict=result)


def _advance_canary(p: Promotion, *, now: float, result: GateResult) -> Transition:
    # A failing canary with enough traffic is rolled back at once, not at the end of its
    # step: users are being served by it (seed: degradation caught within minutes).
    if result.outcome == FAIL:
        return _move(
            p,
            "gate_failed",
            now=now,
            details={"verdict": result.to_json()},
            state=State.ROLLING_BACK,
            verdict=result,
            reason=f"canary gate failed at {p.percentage:g}%: " + "; ".join(result.reasons),
            next_action_at=None,
        )
    if p.next_action_at is None or now < p.next_action_at:
        return _unchanged(p)
    if result.outcome == WAIT:
        return _waiting(p, now, result)
    if p.percentage >= 100.0:
        return _completing(p, now=now, result=result, kind="completing")
    config = _canary_config(p)
    following = config.next_percentage(p.percentage)
    return _move(
        p,
        "step_passed",
        now=now,
        details={"from": p.percentage, "to": following, "verdict": result.to_json()},
        percentage=following,
        verdict=result,
        needs_baseline=True,
        step_started_at=now,
        next_action_at=now + config.increment_interval_seconds,
    )


def _completing(p: Promotion, *, now: float, result: GateResult, kind: str) -> Transition:
    return _move(
        p,
        kind,
        now=now,
        details={"verdict": result.to_json()},
        state=State.COMPLETING,
        verdict=result,
        next_action_at=None,
    )


def _advance_shadow(p: Promotion, *, now: float, result: GateResult) -> Transition:
    due = p.next_action_at is not None and now >= p.next_action_at
    # Before the verdict is due only a failing error rate rejects early: a challenger that
    # errors is broken, and 48 h more of it teach nothing. Other checks wait for the full
    # period, since a shadow harms no user.
    early = result.outcome == FAIL and "error_rate" in result.checks_failed
    if not due and not early:
        return _unchanged(p)
    if result.outcome == FAIL:
        return _move(
            p,
            "shadow_rejected",
            now=now,
            details={"verdict": result.to_json()},
            state=State.REJECTING,
            verdict=result,
            reason="shadow verdict failed: " + "; ".join(result.reasons),
            next_action_at=None,
        )
    if result.outcome == WAIT:
        return _waiting(p, now, result)
    config = p.config
    if isinstance(config, ShadowConfig) and config.then == "canary":
        return _move(
            p,
            "shadow_passed",
            now=now,
            details={"then": "canary", "verdict": result.to_json()},
            state=State.CANARY,
            percentage=min(100.0, config.canary.initial_percentage),
            config=config.canary,
            verdict=result,
            needs_baseline=True,
            step_started_at=now,
            next_action_at=now + config.canary.increment_interval_seconds,
        )
    return _completing(p, now=now, result=result, kind="shadow_passed")


def pause(p: Promotion, *, now: float, by: str | None) -> Transition:
    """Freeze a running promotion where it is: the canary keeps its share of traffic (the
    shadow keeps scoring), but no step passes and the gate does not judge until resumed."""
    if p.state not in RUNNING:
        raise Conflict(
            f"promotion {p.id} is {p.state}, only a shadow or canary can be paused",
            rule="promotion_not_running",
        )
    return _move(
        p,
        "paused",
        now=now,
        details={"by": by},
        state=State.PAUSED,
        paused_state=p.state,
        next_action_at=None,
    )


def resume(p: Promotion, *, now: float, by: str | None) -> Transition:
    """Restart the current step from a fresh baseline: a canary step gets its whole
    interval again; a shadow gets the rest of its duration (time paused does not count)."""
    if p.state is not State.PAUSED:
        raise Conflict(f"promotion {p.id} is {p.state}, not paused", rule="promotion_not_paused")
    back = p.resumes_to
    if back is State.SHADOW and isinstance(p.config, ShadowConfig):
        # updated_at is the moment of pausing: nothing moves a paused promotion until now
        elapsed = min(max(0.0, p.updated_at - p.step_started_at), p.config.duration_seconds)
        started, due = now - elapsed, now - elapsed + p.config.duration_seconds
    else:
        started, due = now, now + _canary_config(p).increment_interval_seconds
    return _move(
        p,
        "resumed",
        now=now,
        details={"by": by},
        state=back,
        paused_state=None,
        needs_baseline=True,
        step_started_at=started,
        next_action_at=due,
    )


def rollback(p: Promotion, *, now: float, by: str | None, reason: str | None) -> Transition:
    """A user's rollback from shadow, canary or paused: the champion keeps serving."""
    if p.state.is_finished:
        raise Conflict(f"promotion {p.id} is already {p.state}", rule="promotion_finished")
    if p.state.is_pending:
        raise Conflict(f"promotion {p.id} is already {p.state}", rule="promotion_already_ending")
    why = reason or f"rolled back by {by or 'a user'}"
    return _move(
        p,
        "rolled_back_by_user",
        now=now,
        details={"by": by, "reason": reason},
        state=State.ROLLING_BACK,
        reason=why,
        next_action_at=None,
        paused_state=None,
    )


def finish(p: Promotion, *, now: float) -> Transition:
    """Record that a pending decision's effects were applied; any other state: no change."""
    if p.state not in _FINISHED_BY:
        return _unchanged(p)
    final, kind = _FINISHED_BY[p.state]
    percentage = 100.0 if final is State.COMPLETED else 0.0
    return _move(
        p,
        kind,
        now=now,
        details={},
        state=final,
        percentage=percentage,
        finished_at=now,
        next_action_at=None,
    )


def baseline_taken(p: Promotion) -> Promotion:
    """The executor snapshotted the cumulative counts the step's evidence is measured from
    (not a transition: ``step`` stays, so it cannot clash with a concurrent one)."""
    return replace(p, needs_baseline=False)
