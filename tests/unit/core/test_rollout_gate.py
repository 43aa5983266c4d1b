"""The canary gate and the shadow verdict (core/rollout_gate.py): pass, fail, wait."""

from __future__ import annotations

import json

import pytest

from seriesguard.core import sketch
from seriesguard.core.quality import Confusion
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

CANARY = CanaryPolicy()
SHADOW = ShadowPolicy()


def arm(
    requests: int,
    *,
    errors: int = 0,
    anomalies: int | None = None,
    latency_ms: float | None = 10.0,
    agreements: int | None = None,
) -> ArmCounts:
    """An arm with a 2 % anomaly rate, every latency at ``latency_ms`` and full agreement
    unless told otherwise."""
    answered = requests - errors
    latency = {} if latency_ms is None else {sketch.bucket_of(latency_ms / 1000): requests}
    return ArmCounts(
        requests=requests,
        errors=errors,
        anomalies=answered // 50 if anomalies is None else anomalies,
        latency=latency,
        agreements=answered if agreements is None else agreements,
    )


def healthy(requests: int = 1000, champion: int = 10_000) -> Evidence:
    return Evidence(challenger=arm(requests), champion=arm(champion))


# --- canary ---------------------------------------------------------------------------


def test_healthy_canary_passes_with_its_figures() -> None:
    result = judge_canary(healthy(), CANARY)
    assert result.outcome == PASS
    assert result.checks_failed == ()
    assert result.figures["error_rate"] == 0.0
    assert result.figures["p99_ms"] == pytest.approx(10.0, rel=sketch.RELATIVE_ERROR)
    assert result.figures["anomaly_rate"] == pytest.approx(0.02)
    assert result.figures["deviation"] == pytest.approx(0.0)


def test_too_few_canary_requests_wait_and_say_how_many() -> None:
    result = judge_canary(Evidence(arm(199, errors=199), arm(10_000)), CANARY)
    assert result.outcome == WAIT
    assert result.reasons == ("199 of 200 canary requests needed for a verdict",)


def test_error_rate_at_the_threshold_fails() -> None:
    result = judge_canary(Evidence(arm(1000, errors=5), arm(10_000)), CANARY)
    assert result.outcome == FAIL
    assert result.checks_failed == ("error_rate",)
    assert result.reasons == ("error rate 0.50% >= 0.50%",)


def test_error_rate_just_below_passes() -> None:
    assert judge_canary(Evidence(arm(1000, errors=4), arm(10_000)), CANARY).outcome == PASS


def test_p99_over_the_cap_fails() -> None:
    result = judge_canary(Evidence(arm(1000, latency_ms=150), arm(10_000)), CANARY)
    assert result.checks_failed == ("p99",)
    assert result.reasons[0].startswith("p99 latency 1")
    assert result.reasons[0].endswith(">= 100 ms")


def test_p99_is_of_the_slowest_percent() -> None:
    slow = ArmCounts(
        requests=1000,
        anomalies=20,
        latency={sketch.bucket_of(0.005): 980, sketch.bucket_of(0.5): 20},
    )
    assert judge_canary(Evidence(slow, arm(10_000)), CANARY).checks_failed == ("p99",)


def test_significant_anomaly_deviation_fails_with_a_readable_reason() -> None:
    result = judge_canary(Evidence(arm(2000, anomalies=120), arm(10_000)), CANARY)
    assert result.outcome == FAIL
    assert result.checks_failed == ("anomaly_deviation",)
    assert result.reasons[0].startswith("anomaly rate 6% vs 2% (+200%, p=")
    assert result.reasons[0].endswith(") > 20%")
    assert result.figures["p_value"] is not None
    assert float(result.figures["p_value"]) < CANARY.alpha


def test_large_but_insignificant_deviation_passes() -> None:
    # 8 anomalies in 200 (4 %) against 2 %: +100 %, yet p is about 0.04 > alpha 0.01
    result = judge_canary(Evidence(arm(200, anomalies=8), arm(10_000)), CANARY)
    assert result.outcome == PASS
    assert float(result.figures["deviation"] or 0) > CANARY.max_anomaly_deviation


def test_significant_but_small_deviation_passes() -> None:
    # 2.2 % vs 2.0 % over millions of requests: significant, but a 10 % deviation
    result = judge_canary(
        Evidence(arm(2_000_000, anomalies=44_000), arm(2_000_000, anomalies=40_000)), CANARY
    )
    assert float(result.figures["p_value"] or 1) < CANARY.alpha
    assert result.outcome == PASS


def test_fewer_anomalies_count_as_deviation_too() -> None:
    result = judge_canary(Evidence(arm(5000, anomalies=0), arm(10_000)), CANARY)
    assert result.checks_failed == ("anomaly_deviation",)
    assert "(-100%" in result.reasons[0]


def test_zero_champion_anomalies_uses_the_floor() -> None:
    quiet = arm(10_000, anomalies=0)
    assert judge_canary(Evidence(arm(1000, anomalies=0), quiet), CANARY).outcome == PASS
    result = judge_canary(Evidence(arm(1000, anomalies=30), quiet), CANARY)
    assert result.checks_failed == ("anomaly_deviation",)
    assert result.figures["deviation"] == pytest.approx(0.03 / 0.001)


def test_champion_without_traffic_skips_the_comparison_with_a_note() -> None:
    # a canary at 100 %: production answers nothing, the other checks still decide
    result = judge_canary(Evidence(arm(1000, anomalies=300), arm(0)), CANARY)
    assert result.outcome == PASS
    assert result.figures["deviation"] is None
    assert any("production answered 0 of the 200" in r for r in result.reasons)
    failing = judge_canary(Evidence(arm(1000, errors=100), arm(3)), CANARY)
    assert failing.checks_failed == ("error_rate",)


def test_all_errors_fail_on_errors_only() -> None:
    result = judge_canary(Evidence(arm(500, errors=500, latency_ms=None), arm(10_000)), CANARY)
    assert result.checks_failed == ("error_rate",)
    assert result.figures["error_rate"] == 1.0
    assert result.figures["anomaly_rate"] is None


def test_every_failed_check_is_listed() -> None:
    result = judge_canary(
        Evidence(arm(1000, errors=100, anomalies=400, latency_ms=300), arm(10_000)), CANARY
    )
    assert result.checks_failed == ("error_rate", "p99", "anomaly_deviation")
    assert len(result.reasons) == 3


def test_empty_latency_sketch_is_not_a_failure() -> None:
    result = judge_canary(Evidence(arm(1000, latency_ms=None), arm(10_000)), CANARY)
    assert result.outcome == PASS
    assert result.figures["p99_ms"] is None
    assert "p99 latency not checked: no latency recorded" in result.reasons


# --- shadow ---------------------------------------------------------------------------


def test_healthy_shadow_passes() -> None:
    result = judge_shadow(healthy(), SHADOW)
    assert result.outcome == PASS
    assert result.figures["agreement"] == 1.0
    assert result.figures["latency_ratio"] == pytest.approx(1.0)


def test_shadow_waits_below_min_requests() -> None:
    result = judge_shadow(healthy(requests=499), SHADOW)
    assert result.outcome == WAIT
    assert "499 of 500 shadow requests" in result.reasons[0]


def test_low_agreement_fails() -> None:
    result = judge_shadow(Evidence(arm(1000, agreements=899), arm(10_000)), SHADOW)
    assert result.checks_failed == ("agreement",)
    assert result.reasons == ("agreement 89.90% < 90%",)


def test_slower_than_the_champion_by_the_ratio_fails() -> None:
    result = judge_shadow(Evidence(arm(1000, latency_ms=40), arm(10_000, latency_ms=20)), SHADOW)
    assert result.checks_failed == ("latency_ratio",)
    ok = judge_shadow(Evidence(arm(1000, latency_ms=28), arm(10_000, latency_ms=20)), SHADOW)
    assert ok.outcome == PASS


def test_shadow_over_the_absolute_cap_fails_even_if_the_champion_is_as_slow() -> None:
    result = judge_shadow(Evidence(arm(1000, latency_ms=150), arm(10_000, latency_ms=150)), SHADOW)
    assert result.checks_failed == ("p99",)


def test_shadow_that_answered_nothing_fails_agreement_and_errors() -> None:
    result = judge_shadow(Evidence(arm(600, errors=600), arm(10_000)), SHADOW)
    assert set(result.checks_failed) == {"agreement", "error_rate"}


def test_quality_drop_fails_where_labels_suffice() -> None:
    champion_q = Confusion(tp=90, fp=10, fn=10, tn=890)  # precision 0.9, recall 0.9
    worse_precision = Confusion(tp=90, fp=30, fn=10, tn=870)  # precision 0.75
    result = judge_shadow(Evidence(arm(1000), arm(10_000), worse_precision, champion_q), SHADOW)
    assert result.checks_failed == ("precision_drop",)
    assert result.figures["precision"] == pytest.approx(0.75)
    worse_recall = Confusion(tp=70, fp=5, fn=30, tn=895)  # recall 0.7
    result = judge_shadow(Evidence(arm(1000), arm(10_000), worse_recall, champion_q), SHADOW)
    assert result.checks_failed == ("recall_drop",)


def test_quality_within_the_allowed_drop_or_better_passes() -> None:
    champion_q = Confusion(tp=90, fp=10, fn=10, tn=890)
    close = Confusion(tp=87, fp=11, fn=13, tn=889)  # about 2-3 points lower
    assert judge_shadow(Evidence(arm(1000), arm(10_000), close, champion_q), SHADOW).outcome == PASS


def test_quality_with_too_few_labels_is_not_compared() -> None:
    few = Confusion(tp=2, fp=8, fn=1, tn=5)
    result = judge_shadow(
        Evidence(arm(1000), arm(10_000), few, Confusion(tp=90, fp=10, fn=10, tn=890)), SHADOW
    )
    assert result.outcome == PASS
    assert "precision not compared: fewer than 30 labels" in result.reasons


def test_quality_of_one_arm_only_is_ignored() -> None:
    bad = Confusion(tp=1, fp=99, fn=99, tn=0)
    assert judge_shadow(Evidence(arm(1000), arm(10_000), bad, None), SHADOW).outcome == PASS


# --- counts and serialisation ---------------------------------------------------------


def test_minus_gives_the_step_counts_clamped_at_zero() -> None:
    now = ArmCounts(requests=150, errors=3, anomalies=10, latency={5: 100, 9: 50}, agreements=140)
    before = ArmCounts(requests=100, errors=1, anomalies=4, latency={5: 90, 9: 50, 12: 7})
    step = now.minus(before)
    assert step == ArmCounts(requests=50, errors=2, anomalies=6, latency={5: 10}, agreements=48)
    assert before.minus(now) == ArmCounts(latency={12: 7})  # only what grew is kept


def test_arm_counts_and_results_round_trip_through_json() -> None:
    counts = ArmCounts(requests=10, errors=1, anomalies=2, latency={3: 4, 70: 6}, agreements=8)
    assert ArmCounts.from_json(json.loads(json.dumps(counts.to_json()))) == counts
    result = judge_canary(Evidence(arm(1000, errors=50), arm(10_000)), CANARY)
    assert GateResult.from_json(json.loads(json.dumps(result.to_json()))) == result
