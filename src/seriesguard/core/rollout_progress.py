"""How far a promotion has come, as one number in [0, 1] for progress bars. Pure.

A canary has come as far as the share of traffic its version answers; a shadow as far as
its observation period has run (the clock stops while it is paused); a completed promotion
(or one whose completion is being applied) all the way. One rolled back or rejected is where
its traffic share went back to: nothing.
"""

from __future__ import annotations

from seriesguard.core.rollout import Promotion, ShadowConfig, State

_DONE = frozenset({State.COMPLETING, State.COMPLETED})


def rollout_progress(promotion: Promotion, *, now: float) -> float:
    """canary: current percentage / 100; shadow: elapsed / duration; completed: 1."""
    if promotion.state in _DONE:
        return 1.0
    config = promotion.config
    running = promotion.state is State.SHADOW
    paused = promotion.state is State.PAUSED and promotion.resumes_to is State.SHADOW
    if (running or paused) and isinstance(config, ShadowConfig):
        # updated_at of a paused promotion is the moment it was paused: its clock stopped
        until = now if running else promotion.updated_at
        return _fraction(until - promotion.step_started_at, config.duration_seconds)
    return _fraction(promotion.percentage, 100.0)


def _fraction(part: float, whole: float) -> float:
    if not whole > 0.0 or part != part:  # no period at all, or NaN
        return 0.0
    return min(1.0, max(0.0, part / whole))
