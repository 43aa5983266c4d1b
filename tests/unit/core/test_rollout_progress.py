"""Progress of a promotion for progress bars: canary share, shadow time observed, done = 1."""

from __future__ import annotations

from dataclasses import replace

import pytest

from seriesguard.core.rollout import (
    CanaryConfig,
    Promotion,
    ShadowConfig,
    State,
    finish,
    pause,
    resume,
    rollback,
    start_canary,
    start_shadow,
)
from seriesguard.core.rollout_progress import rollout_progress

T0 = 1_700_000_000.0
HOUR = 3600.0


def canary(percentage: float = 10.0) -> Promotion:
    config = CanaryConfig(initial_percentage=percentage)
    return start_canary(
        promotion_id="p1",
        series_id="s1",
        version=2,
        champion_version=1,
        config=config,
        now=T0,
    ).promotion


def shadow(hours: float = 10.0) -> Promotion:
    return start_shadow(
        promotion_id="p2",
        series_id="s1",
        version=2,
        champion_version=1,
        config=ShadowConfig(duration_seconds=hours * HOUR),
        now=T0,
    ).promotion


@pytest.mark.parametrize("percentage", [5.0, 10.0, 35.0, 100.0])
def test_a_canary_has_come_as_far_as_its_share_of_traffic(percentage: float) -> None:
    assert rollout_progress(canary(percentage), now=T0 + 5 * HOUR) == pytest.approx(
        percentage / 100
    )


def test_a_shadow_has_come_as_far_as_its_period_has_run() -> None:
    p = shadow(hours=10)
    assert rollout_progress(p, now=T0) == 0.0
    assert rollout_progress(p, now=T0 + 2.5 * HOUR) == pytest.approx(0.25)
    assert rollout_progress(p, now=T0 + 30 * HOUR) == 1.0  # overdue: full, never above
    assert rollout_progress(p, now=T0 - HOUR) == 0.0  # a clock behind: never below


def test_a_paused_shadow_stops_its_clock_and_resumes_where_it_was() -> None:
    paused = pause(shadow(hours=10), now=T0 + 4 * HOUR, by="eve").promotion
    assert paused.state is State.PAUSED
    assert rollout_progress(paused, now=T0 + 9 * HOUR) == pytest.approx(0.4)
    resumed = resume(paused, now=T0 + 9 * HOUR, by="eve").promotion
    assert rollout_progress(resumed, now=T0 + 10 * HOUR) == pytest.approx(0.5)


def test_a_paused_canary_keeps_its_share() -> None:
    paused = pause(canary(20.0), now=T0 + HOUR, by="eve").promotion
    assert rollout_progress(paused, now=T0 + 50 * HOUR) == pytest.approx(0.2)


def test_completed_is_one_and_rolled_back_is_zero() -> None:
    completing = replace(canary(95.0), state=State.COMPLETING)
    assert rollout_progress(completing, now=T0) == 1.0
    completed = finish(completing, now=T0 + HOUR).promotion
    assert completed.state is State.COMPLETED
    assert rollout_progress(completed, now=T0 + HOUR) == 1.0
    ending = rollback(canary(50.0), now=T0 + HOUR, by="eve", reason=None).promotion
    rolled_back = finish(ending, now=T0 + HOUR).promotion
    assert rolled_back.state is State.ROLLED_BACK
    assert rollout_progress(rolled_back, now=T0 + HOUR) == 0.0


def test_a_shadow_of_no_duration_is_not_a_division_by_zero() -> None:
    p = replace(shadow(), config=ShadowConfig(duration_seconds=0.0))
    assert rollout_progress(p, now=T0 + HOUR) == 0.0
