"""Promotion state machines (core/rollout.py) on a fake clock: every canary and shadow
transition, pause/resume, rollbacks, pending states and their finish, configs."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seriesguard.core import sketch
from seriesguard.core.errors import Conflict, InvalidInput
from seriesguard.core.rollout import (
    ArmCounts,
    CanaryConfig,
    CanaryPolicy,
    Evidence,
    Promotion,
    ShadowConfig,
    ShadowPolicy,
    State,
    Strategy,
    Transition,
    advance,
    baseline_taken,
    config_from_json,
    finish,
    pause,
    resume,
    rollback,
    start_canary,
    start_shadow,
)

T0 = 1_700_000_000.0
HOUR = 3600.0
STEPS = [5.0, 20.0, 35.0, 50.0, 65.0, 80.0, 95.0, 100.0]
CANARY, SHADOW = CanaryPolicy(), ShadowPolicy()


def arm(
    requests: int, *, errors: int = 0, anomalies: int | None = None, latency_ms: float = 10.0
) -> ArmCounts:
    answered = requests - errors
    return ArmCounts(
        requests=requests,
        errors=errors,
        anomalies=answered // 50 if anomalies is None else anomalies,
        latency={sketch.bucket_of(latency_ms / 1000): requests},
        agreements=answered,
    )


GOOD = Evidence(arm(1000), arm(10_000))
FEW = Evidence(arm(10), arm(10_000))
FAILING = {
    "error_rate": Evidence(arm(1000, errors=20), arm(10_000)),
    "p99": Evidence(arm(1000, latency_ms=250), arm(10_000)),
    "anomaly_deviation": Evidence(arm(2000, anomalies=200), arm(10_000)),
}


def canary(now: float = T0, config: CanaryConfig | None = None) -> Promotion:
    t = start_canary(
        promotion_id="p1",
        series_id="s1",
        version=6,
        champion_version=5,
        config=config or CanaryConfig(),
        now=now,
        created_by="alice",
    )
    return baseline_taken(t.promotion)


def shadow(now: float = T0, then: str = "canary") -> Promotion:
    t = start_shadow(
        promotion_id="p2",
        series_id="s1",
        version=6,
        champion_version=5,
        config=ShadowConfig(then=then),
        now=now,
    )
    return baseline_taken(t.promotion)


def step(p: Promotion, now: float, evidence: Evidence | None = GOOD) -> Transition:
    return advance(p, now=now, evidence=evidence, canary=CANARY, shadow=SHADOW)


def due(p: Promotion) -> float:
    assert p.next_action_at is not None
    return p.next_action_at


# --- configs --------------------------------------------------------------------------


def test_default_steps_are_the_seeds() -> None:
    assert CanaryConfig().steps() == STEPS
    assert CanaryConfig(initial_percentage=100).steps() == [100.0]
    assert CanaryConfig(10, 0.1, 60).steps()[:3] == [10.0, 10.1, 10.2]


def test_canary_request_in_hours_with_defaults_for_missing_keys() -> None:
    defaults = CanaryConfig(5, 15, 2 * HOUR)
    got = CanaryConfig.from_request(
        {"initial_percentage": 10, "increment_interval_hours": 0.5}, defaults=defaults
    )
    assert got == CanaryConfig(10.0, 15.0, 1800.0)
    assert CanaryConfig.from_request(None, defaults=defaults) is defaults
    assert got.to_request()["increment_interval_hours"] == 0.5


@pytest.mark.parametrize(
    ("raw", "rule", "key"),
    [
        ({"initial_percentage": 0}, "percentage_range", "initial_percentage"),
        ({"initial_percentage": 100.5}, "percentage_range", "initial_percentage"),
        ({"increment_percentage": -1}, "percentage_range", "increment_percentage"),
        ({"increment_percentage": float("nan")}, "percentage_range", "increment_percentage"),
        ({"increment_interval_hours": 0}, "interval_positive", "increment_interval_hours"),
        ({"increment_interval_hours": "2"}, "number_type", "increment_interval_hours"),
        ({"initial_percentage": True}, "number_type", "initial_percentage"),
        ({"increment_percentage": 0.01}, "too_many_steps", "increment_percentage"),
        ({"speed": 1}, "unknown_field", "speed"),
    ],
)
def test_bad_canary_requests_name_rule_and_place(
    raw: dict[str, object], rule: str, key: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        CanaryConfig.from_request(raw, defaults=CanaryConfig())
    assert caught.value.rule == rule
    assert caught.value.loc == ("body", "canary_config", key)


def test_shadow_request_with_its_canary_config() -> None:
    got = ShadowConfig.from_request(
        {"duration_hours": 1, "canary_config": {"initial_percentage": 50}},
        defaults=ShadowConfig(),
        canary_defaults=CanaryConfig(5, 15, HOUR),
    )
    assert got == ShadowConfig(HOUR, "canary", CanaryConfig(50, 15, HOUR))
    default = ShadowConfig.from_request(
        None, defaults=ShadowConfig(), canary_defaults=CanaryConfig(1, 2, 3)
    )
    assert default.canary == CanaryConfig(1, 2, 3)


@pytest.mark.parametrize(
    ("raw", "rule", "loc"),
    [
        ({"then": "staging"}, "shadow_then", ("then",)),
        ({"duration_hours": -2}, "duration_positive", ("duration_hours",)),
        ({"canary_config": {"x": 1}}, "unknown_field", ("canary_config", "x")),
        ({"canary_config": [1]}, "object_type", ("canary_config",)),
        ({"mirror": True}, "unknown_field", ("mirror",)),
    ],
)
def test_bad_shadow_requests(raw: dict[str, object], rule: str, loc: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput) as caught:
        ShadowConfig.from_request(raw, defaults=ShadowConfig(), canary_defaults=CanaryConfig())
    assert caught.value.rule == rule
    assert caught.value.loc == ("body", "shadow_config", *loc)


def test_configs_round_trip_through_json() -> None:
    for config in (CanaryConfig(3, 7, 60), ShadowConfig(90, "production", CanaryConfig(1, 2, 3))):
        assert config_from_json(json.loads(json.dumps(config.to_json()))) == config


# --- canary ---------------------------------------------------------------------------


def test_start_canary() -> None:
    t = start_canary(
        promotion_id="p",
        series_id="s",
        version=2,
        champion_version=1,
        config=CanaryConfig(),
        now=T0,
    )
    p = t.promotion
    assert (p.state, p.strategy, p.percentage, p.step) == (State.CANARY, Strategy.CANARY, 5.0, 0)
    assert p.needs_baseline and p.next_action_at == T0 + 2 * HOUR
    assert t.event is not None and t.event.kind == "started"


def test_canary_passes_every_step_to_completion() -> None:
    p, now, seen = canary(), T0, []
    for expected in STEPS:
        assert p.percentage == expected
        assert step(p, due(p) - 1).event is None  # not due: nothing happens
        now = due(p)
        t = step(p, now)
        assert t.event is not None and t.promotion.step == p.step + 1
        seen.append(t.event.kind)
        p = t.promotion
        if p.state is State.CANARY:
            assert p.needs_baseline and p.step_started_at == now
            assert p.next_action_at == now + 2 * HOUR
            assert step(p, due(p)).event is None  # no evidence before the new baseline
            p = baseline_taken(p)
    assert seen == ["step_passed"] * 7 + ["completing"]
    assert p.state is State.COMPLETING and p.verdict is not None
    done = finish(p, now=now + 1).promotion
    assert (done.state, done.percentage, done.finished_at) == (State.COMPLETED, 100.0, now + 1)


@pytest.mark.parametrize("check", sorted(FAILING))
@pytest.mark.parametrize("at_step", range(len(STEPS)))
def test_a_failing_gate_rolls_back_at_any_step_and_time(check: str, at_step: int) -> None:
    p = canary()
    for _ in range(at_step):
        p = baseline_taken(step(p, due(p)).promotion)
    assert p.percentage == STEPS[at_step]
    t = step(p, p.step_started_at + 60, FAILING[check])  # minutes into the step
    assert t.event is not None and t.event.kind == "gate_failed"
    assert t.promotion.state is State.ROLLING_BACK
    assert t.promotion.verdict is not None and t.promotion.verdict.checks_failed == (check,)
    assert t.promotion.reason is not None
    assert t.promotion.reason.startswith(f"canary gate failed at {STEPS[at_step]:g}%: ")
    rolled = finish(t.promotion, now=T0).promotion
    assert (rolled.state, rolled.percentage) == (State.ROLLED_BACK, 0.0)


def test_insufficient_traffic_waits_once_then_passes() -> None:
    p = canary()
    first = step(p, due(p), FEW)
    assert first.event is not None and first.event.kind == "waiting"
    assert first.promotion.percentage == 5.0 and first.promotion.state is State.CANARY
    again = step(first.promotion, due(p) + 600, FEW)
    assert again.event is None and again.promotion == first.promotion
    passed = step(first.promotion, due(p) + 1200, GOOD)
    assert passed.event is not None and passed.event.kind == "step_passed"
    assert passed.promotion.percentage == 20.0


def test_nothing_changes_without_evidence_or_when_not_running() -> None:
    p = canary()
    assert step(p, due(p), None).event is None
    paused = pause(p, now=T0 + 1, by="bob").promotion
    assert step(paused, due(p) + 10, FAILING["error_rate"]).event is None


def test_pause_and_resume_restart_the_canary_step() -> None:
    p = baseline_taken(step(canary(), T0 + 2 * HOUR).promotion)  # at 20 %
    t = pause(p, now=T0 + 3 * HOUR, by="bob")
    paused = t.promotion
    assert paused.state is State.PAUSED and paused.paused_state is State.CANARY
    assert paused.percentage == 20.0 and paused.next_action_at is None
    assert t.event is not None and t.event.details == {"by": "bob"}
    back = resume(paused, now=T0 + 10 * HOUR, by="bob").promotion
    assert back.state is State.CANARY and back.percentage == 20.0
    assert back.needs_baseline and back.step_started_at == T0 + 10 * HOUR
    assert back.next_action_at == T0 + 12 * HOUR
    assert back.step == p.step + 2


def test_pause_and_resume_refuse_the_wrong_states() -> None:
    p = canary()
    paused = pause(p, now=T0, by=None).promotion
    with pytest.raises(Conflict) as caught:
        pause(paused, now=T0, by=None)
    assert caught.value.rule == "promotion_not_running"
    with pytest.raises(Conflict) as caught:
        resume(p, now=T0, by=None)
    assert caught.value.rule == "promotion_not_paused"


@pytest.mark.parametrize("how", ["canary", "shadow", "paused"])
def test_user_rollback_from_every_running_state(how: str) -> None:
    p = shadow() if how == "shadow" else canary()
    if how == "paused":
        p = pause(p, now=T0 + 5, by="bob").promotion
    t = rollback(p, now=T0 + 10, by="carol", reason=None)
    assert t.promotion.state is State.ROLLING_BACK
    assert t.promotion.reason == "rolled back by carol"
    assert t.event is not None and t.event.kind == "rolled_back_by_user"
    assert finish(t.promotion, now=T0 + 11).promotion.state is State.ROLLED_BACK


def test_rollback_refuses_pending_and_finished() -> None:
    ending = rollback(canary(), now=T0, by=None, reason="bad").promotion
    assert ending.reason == "bad"
    with pytest.raises(Conflict) as caught:
        rollback(ending, now=T0, by=None, reason=None)
    assert caught.value.rule == "promotion_already_ending"
    with pytest.raises(Conflict) as caught:
        rollback(finish(ending, now=T0).promotion, now=T0, by=None, reason=None)
    assert caught.value.rule == "promotion_finished"


def test_crash_between_decision_and_effects_changes_nothing_on_retry() -> None:
    """The executor decided, crashed before applying; the persisted pending state is read
    back: advancing again changes nothing, finish completes it, finishing twice is a no-op."""
    ending = step(canary(), T0 + 60, FAILING["error_rate"]).promotion
    for evidence in (GOOD, FAILING["p99"], None):
        assert step(ending, T0 + 10 * HOUR, evidence).event is None
    done = finish(ending, now=T0 + 11 * HOUR)
    assert done.event is not None and done.event.kind == "rolled_back"
    assert finish(done.promotion, now=T0 + 12 * HOUR).event is None


def test_every_transition_bumps_the_step_token() -> None:
    p = canary()
    a = step(p, due(p)).promotion
    b = step(p, due(p) + 5).promotion  # the same decision from the same read
    assert a.step == b.step == p.step + 1  # a store comparing step accepts only one
    assert baseline_taken(a).step == a.step


# --- shadow ---------------------------------------------------------------------------


def test_shadow_passes_into_canary() -> None:
    p = shadow()
    assert p.state is State.SHADOW and p.percentage == 0.0
    assert p.next_action_at == T0 + 48 * HOUR
    assert step(p, T0 + 47 * HOUR).event is None
    t = step(p, T0 + 48 * HOUR)
    assert t.event is not None and t.event.kind == "shadow_passed"
    c = t.promotion
    assert (c.state, c.strategy, c.percentage) == (State.CANARY, Strategy.SHADOW, 5.0)
    assert c.config == CanaryConfig() and c.needs_baseline
    assert c.next_action_at == T0 + 50 * HOUR
    assert step(baseline_taken(c), T0 + 50 * HOUR).promotion.percentage == 20.0


def test_shadow_passes_into_production() -> None:
    p = shadow(then="production")
    t = step(p, due(p))
    assert t.event is not None and t.event.kind == "shadow_passed"
    assert t.promotion.state is State.COMPLETING
    assert finish(t.promotion, now=due(p)).promotion.state is State.COMPLETED


def test_shadow_fails_its_verdict() -> None:
    p = shadow()
    low_agreement = Evidence(replace(arm(1000), agreements=500), arm(10_000))
    assert step(p, due(p) - 1, low_agreement).event is None  # not due, not urgent
    t = step(p, due(p), low_agreement)
    assert t.event is not None and t.event.kind == "shadow_rejected"
    assert t.promotion.state is State.REJECTING
    assert t.promotion.reason == "shadow verdict failed: agreement 50% < 90%"
    assert finish(t.promotion, now=due(p)).promotion.state is State.REJECTED


def test_shadow_with_failing_errors_is_rejected_early() -> None:
    t = step(shadow(), T0 + HOUR, FAILING["error_rate"])
    assert t.promotion.state is State.REJECTING


def test_shadow_waits_for_traffic_past_its_duration() -> None:
    p = shadow()
    waiting = step(p, due(p), Evidence(arm(100), arm(10_000)))
    assert waiting.event is not None and waiting.event.kind == "waiting"
    assert waiting.promotion.state is State.SHADOW
    assert step(waiting.promotion, due(p) + HOUR).promotion.state is State.CANARY


def test_resumed_shadow_gets_the_rest_of_its_duration() -> None:
    p = shadow()
    paused = pause(p, now=T0 + 10 * HOUR, by=None).promotion
    back = resume(paused, now=T0 + 100 * HOUR, by=None).promotion
    assert back.state is State.SHADOW and back.needs_baseline
    assert back.next_action_at == T0 + 138 * HOUR
    again = pause(back, now=T0 + 120 * HOUR, by=None).promotion  # 30 h of 48 served
    assert resume(again, now=T0 + 200 * HOUR, by=None).promotion.next_action_at == (T0 + 218 * HOUR)


def test_resume_without_a_stored_paused_state_derives_it() -> None:
    stored = replace(pause(shadow(), now=T0, by=None).promotion, paused_state=None)
    assert resume(stored, now=T0, by=None).promotion.state is State.SHADOW


def test_finish_leaves_non_pending_states_alone() -> None:
    for p in (canary(), shadow(), pause(canary(), now=T0, by=None).promotion):
        assert finish(p, now=T0).event is None


def test_state_flags() -> None:
    assert {s for s in State if s.is_pending} == {
        State.COMPLETING,
        State.ROLLING_BACK,
        State.REJECTING,
    }
    assert {s for s in State if s.is_finished} == {
        State.COMPLETED,
        State.ROLLED_BACK,
        State.REJECTED,
    }
    assert all(s.is_active != s.is_finished for s in State)


# --- property: a canary never skips a percentage ------------------------------------

OUTCOMES = st.sampled_from(["good", "few", "fail", "none"])
EVIDENCE = {"good": GOOD, "few": FEW, "fail": FAILING["p99"], "none": None}


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(st.tuples(OUTCOMES, st.floats(0, 3 * HOUR)), max_size=40),
    st.sampled_from([CanaryConfig(), CanaryConfig(10, 30, HOUR), CanaryConfig(100, 5, 60)]),
)
def test_a_canary_completes_rolls_back_or_waits_in_order(
    looks: list[tuple[str, float]], config: CanaryConfig
) -> None:
    p, now, served = canary(config=config), T0, [config.steps()[0]]
    for outcome, gap in looks:
        now += gap
        t = step(p, now, EVIDENCE[outcome])
        assert t.promotion.step == p.step + (t.event is not None)
        p = baseline_taken(t.promotion)
        if p.percentage != served[-1] and p.state is State.CANARY:
            served.append(p.percentage)
        if p.state is not State.CANARY:
            break
    assert served == config.steps()[: len(served)]
    assert p.state in {State.CANARY, State.COMPLETING, State.ROLLING_BACK}
    if p.state is State.COMPLETING:
        assert served == config.steps()
