"""Drift tests: PSI (data drift), anomaly-rate z-test (concept drift), precision drop."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from seriesguard.core import drift
from seriesguard.core.drift import Verdict
from seriesguard.core.monitoring import REFERENCE_BINS, ReferenceSummary
from seriesguard.core.reference import bin_counts, reference_edges


def reference_of(values: np.ndarray, anomaly_rate: float = 0.01) -> ReferenceSummary:
    edges = reference_edges(values)
    return ReferenceSummary(edges, bin_counts(values, edges), int(values.size), anomaly_rate)


def padded(counts: tuple[int, ...]) -> tuple[int, ...]:
    """As the stats rows store them: REFERENCE_BINS wide, unused trailing bins zero."""
    return counts + (0,) * (REFERENCE_BINS - len(counts))


@pytest.fixture
def training() -> np.ndarray:
    return np.random.default_rng(7).normal(10.0, 2.0, 20_000)


# --- PSI ---------------------------------------------------------------------------------


def test_psi_of_identical_histograms_is_zero() -> None:
    assert drift.psi([100, 200, 300], [100, 200, 300]) == 0.0
    assert drift.psi([100, 200, 300], [10, 20, 30]) == pytest.approx(0.0, abs=1e-3)


def test_psi_matches_the_formula_on_a_hand_example() -> None:
    # Add-1/2 smoothing: reference (1.5, 2.5) / 4, current (3.5, 0.5) / 4.
    r, c = (1.5 / 4, 2.5 / 4), (3.5 / 4, 0.5 / 4)
    expected = sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c, strict=True))
    assert drift.psi([1, 2], [3, 0]) == pytest.approx(expected, rel=1e-12)


def test_psi_is_finite_with_empty_bins_on_either_side() -> None:
    value = drift.psi([0, 1000, 1000], [1000, 0, 0])
    assert math.isfinite(value) and value > 1.0


def test_psi_reads_only_the_reference_bins_of_a_wider_row() -> None:
    assert drift.psi([50, 50], [40, 60, 0, 0, 0]) == drift.psi([50, 50], [40, 60])


def test_psi_refuses_rows_it_cannot_compare() -> None:
    with pytest.raises(ValueError, match="at least one bin"):
        drift.psi([], [1, 2])
    with pytest.raises(ValueError, match="bins"):
        drift.psi([1, 2, 3], [1, 2])


def test_same_distribution_is_stable(training: np.ndarray) -> None:
    reference = reference_of(training)
    recent = np.random.default_rng(8).normal(10.0, 2.0, 2_000)
    verdict = drift.data_drift(reference, padded(bin_counts(recent, reference.edges)))
    assert verdict.reason == "stable" and verdict.detected is False
    assert verdict.statistic is not None and verdict.statistic < 0.05
    assert (verdict.sample_size, verdict.reference_size) == (2_000, 20_000)
    assert verdict.threshold == 0.2


def test_mean_shift_of_two_sigma_is_drift(training: np.ndarray) -> None:
    reference = reference_of(training)
    recent = np.random.default_rng(9).normal(14.0, 2.0, 2_000)
    verdict = drift.data_drift(reference, padded(bin_counts(recent, reference.edges)))
    assert verdict.reason == "drift" and verdict.detected is True
    assert verdict.statistic is not None and verdict.statistic > 2.0  # >> 0.2
    assert verdict.details["bins"] == REFERENCE_BINS


def test_data_drift_without_reference_or_enough_inputs_gives_no_verdict() -> None:
    none = drift.data_drift(None, [5] * REFERENCE_BINS)
    assert (none.detected, none.statistic, none.reason) == (None, None, "no_reference")
    assert none.sample_size == 50 and none.reference_size == 0
    reference = ReferenceSummary((0.0,), (500, 500), 1000, 0.01)
    few = drift.data_drift(reference, padded((499, 0)), min_samples=500)
    assert (few.detected, few.statistic, few.reason) == (None, None, "insufficient_data")
    assert few.details["min_samples"] == 500 and few.sample_size == 499
    enough = drift.data_drift(reference, padded((500, 0)), min_samples=500)
    assert enough.reason == "drift" and enough.detected is True


def test_data_drift_threshold_is_strict() -> None:
    reference = ReferenceSummary((0.0,), (500, 500), 1000, 0.01)
    current = padded((700, 300))
    value = drift.psi(reference.counts, current)
    assert drift.data_drift(reference, current, threshold=value).detected is False
    assert drift.data_drift(reference, current, threshold=value * 0.999).detected is True


def test_psi_many_ignores_bins_beyond_each_rows_reference() -> None:
    ref = np.array([[50, 50, 0], [10, 20, 30], [1, 1, 1]])
    cur = np.array([[40, 60, 999], [30, 20, 10], [1, 1, 1]])
    result = drift.psi_many(ref, cur, np.array([2, 3, 0]))
    assert result[0] == pytest.approx(drift.psi([50, 50], [40, 60]), rel=1e-12)
    assert result[1] == pytest.approx(drift.psi([10, 20, 30], [30, 20, 10]), rel=1e-12)
    assert math.isnan(result[2])


def test_psi_many_refuses_mismatched_shapes_and_bin_counts() -> None:
    with pytest.raises(ValueError, match="valid_bins"):
        drift.psi_many(np.ones((2, 3)), np.ones((2, 2)), np.array([1, 1]))
    with pytest.raises(ValueError, match="valid_bins"):
        drift.psi_many(np.ones((2, 3)), np.ones((2, 3)), np.array([1, 4]))


# --- anomaly rate ------------------------------------------------------------------------


def test_tripled_anomaly_rate_is_drift() -> None:
    verdict = drift.anomaly_rate_change(
        baseline_rate=0.01, baseline_n=10_000, anomalies=60, n=2_000
    )
    assert verdict.reason == "drift" and verdict.detected is True
    p_value = verdict.details["p_value"]
    assert isinstance(p_value, float) and p_value < 0.01
    assert verdict.statistic is not None and verdict.statistic > 0
    assert verdict.details["current_rate"] == pytest.approx(0.03)
    assert verdict.details["relative_change"] == pytest.approx(2.0)
    assert (verdict.sample_size, verdict.reference_size, verdict.threshold) == (2_000, 10_000, 0.01)


def test_z_matches_the_pooled_formula() -> None:
    pooled = (100 + 60) / 12_000
    z = (0.03 - 0.01) / math.sqrt(pooled * (1 - pooled) * (1 / 10_000 + 1 / 2_000))
    verdict = drift.anomaly_rate_change(
        baseline_rate=0.01, baseline_n=10_000, anomalies=60, n=2_000
    )
    assert verdict.statistic == pytest.approx(z, rel=1e-12)
    assert verdict.details["p_value"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)


def test_fallen_anomaly_rate_is_drift_with_negative_z() -> None:
    verdict = drift.anomaly_rate_change(
        baseline_rate=0.05, baseline_n=10_000, anomalies=20, n=2_000
    )
    assert verdict.detected is True and verdict.statistic is not None and verdict.statistic < 0


def test_stable_anomaly_rate_is_not_drift() -> None:
    verdict = drift.anomaly_rate_change(
        baseline_rate=0.01, baseline_n=10_000, anomalies=22, n=2_000
    )
    assert verdict.reason == "stable" and verdict.detected is False
    p_value = verdict.details["p_value"]
    assert isinstance(p_value, float) and p_value > 0.01


def test_significant_but_small_relative_change_is_not_drift() -> None:
    # 0.100 -> 0.115 on a million points each: p is tiny, but the change is only 15 %.
    verdict = drift.anomaly_rate_change(
        baseline_rate=0.1, baseline_n=1_000_000, anomalies=115_000, n=1_000_000
    )
    p_value = verdict.details["p_value"]
    assert isinstance(p_value, float) and p_value < 1e-10
    assert verdict.details["relative_change"] == pytest.approx(0.15)
    assert verdict.detected is False and verdict.reason == "stable"


def test_zero_baseline_counts_any_significant_rate() -> None:
    verdict = drift.anomaly_rate_change(baseline_rate=0.0, baseline_n=10_000, anomalies=30, n=1_000)
    assert verdict.detected is True and verdict.details["relative_change"] is None


@pytest.mark.parametrize(("rate", "anomalies"), [(0.0, 0), (1.0, 1_000)])
def test_degenerate_pooled_variance_is_no_change(rate: float, anomalies: int) -> None:
    verdict = drift.anomaly_rate_change(
        baseline_rate=rate, baseline_n=10_000, anomalies=anomalies, n=1_000
    )
    assert verdict.statistic == 0.0 and verdict.details["p_value"] == 1.0
    assert verdict.detected is False


def test_anomaly_rate_below_min_samples_or_without_baseline_gives_no_verdict() -> None:
    few = drift.anomaly_rate_change(baseline_rate=0.01, baseline_n=10_000, anomalies=400, n=499)
    assert (few.detected, few.statistic, few.reason) == (None, None, "insufficient_data")
    assert few.details["min_samples"] == 500
    none = drift.anomaly_rate_change(baseline_rate=0.0, baseline_n=0, anomalies=60, n=2_000)
    assert (none.detected, none.reason, none.reference_size) == (None, "no_reference", 0)
    empty = drift.anomaly_rate_change(
        baseline_rate=0.01, baseline_n=100, anomalies=0, n=0, min_samples=0
    )
    assert empty.reason == "insufficient_data" and empty.details["current_rate"] is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"baseline_rate": 1.5, "baseline_n": 10, "anomalies": 0, "n": 1},
        {"baseline_rate": math.nan, "baseline_n": 10, "anomalies": 0, "n": 1},
        {"baseline_rate": 0.1, "baseline_n": -1, "anomalies": 0, "n": 1},
        {"baseline_rate": 0.1, "baseline_n": 10, "anomalies": 2, "n": 1},
        {"baseline_rate": 0.1, "baseline_n": 10, "anomalies": -1, "n": 1},
    ],
)
def test_impossible_rate_inputs_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        drift.anomaly_rate_change(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="row 0"):
        drift.anomaly_rate_change_many(*([v] for v in kwargs.values()))


def test_anomaly_rate_change_many_flags_rows_like_the_scalar_test() -> None:
    z, p, detected = drift.anomaly_rate_change_many(
        np.array([0.01, 0.01, 0.01, 0.0]),
        np.array([10_000, 10_000, 10_000, 0]),
        np.array([60, 22, 400, 60]),
        np.array([2_000, 2_000, 499, 2_000]),
    )
    assert detected.tolist() == [True, False, False, False]
    assert z[0] > 0 and p[0] < 0.01 and p[1] > 0.01
    assert np.isnan(z[2:]).all() and np.isnan(p[2:]).all()


# --- precision drop ----------------------------------------------------------------------


def test_precision_falling_from_0_9_to_0_5_is_drift() -> None:
    verdict = drift.precision_drop(baseline_tp=90, baseline_fp=10, tp=50, fp=50)
    assert verdict.reason == "drift" and verdict.detected is True
    assert verdict.statistic == pytest.approx(0.4)
    p_value = verdict.details["p_value"]
    assert isinstance(p_value, float) and p_value < 0.01
    assert (verdict.details["baseline_precision"], verdict.details["current_precision"]) == (
        0.9,
        0.5,
    )
    assert (verdict.sample_size, verdict.reference_size) == (100, 100)


def test_precision_rising_or_steady_is_not_drift() -> None:
    rising = drift.precision_drop(baseline_tp=50, baseline_fp=50, tp=90, fp=10)
    assert rising.detected is False and rising.statistic == pytest.approx(-0.4)
    p_value = rising.details["p_value"]
    assert isinstance(p_value, float) and p_value > 0.99  # one-sided: a rise is no evidence
    steady = drift.precision_drop(baseline_tp=90, baseline_fp=10, tp=88, fp=12)
    assert steady.detected is False and steady.reason == "stable"


def test_small_but_significant_precision_drop_is_not_drift() -> None:
    verdict = drift.precision_drop(
        baseline_tp=95_000, baseline_fp=5_000, tp=90_000, fp=10_000, min_drop=0.1
    )
    p_value = verdict.details["p_value"]
    assert isinstance(p_value, float) and p_value < 1e-10
    assert verdict.detected is False


def test_precision_drop_needs_labels_on_both_sides() -> None:
    few = drift.precision_drop(baseline_tp=90, baseline_fp=10, tp=10, fp=19)
    assert (few.detected, few.reason, few.sample_size) == (None, "insufficient_data", 29)
    few_before = drift.precision_drop(baseline_tp=20, baseline_fp=9, tp=10, fp=90)
    assert few_before.reason == "insufficient_data"
    none = drift.precision_drop(baseline_tp=0, baseline_fp=0, tp=10, fp=90)
    assert (none.reason, none.details["baseline_precision"]) == ("no_reference", None)
    with pytest.raises(ValueError):
        drift.precision_drop(baseline_tp=-1, baseline_fp=0, tp=1, fp=1)


def test_all_correct_on_both_sides_is_stable() -> None:
    verdict = drift.precision_drop(baseline_tp=100, baseline_fp=0, tp=100, fp=0)
    assert verdict.statistic == 0.0 and verdict.detected is False


# --- Verdict -----------------------------------------------------------------------------


def test_verdict_json_is_flat_and_serialisable() -> None:
    verdict = drift.anomaly_rate_change(
        baseline_rate=0.01, baseline_n=10_000, anomalies=60, n=2_000
    )
    document = json.loads(json.dumps(verdict.to_json(), allow_nan=False))
    assert document["reason"] == "drift" and document["detected"] is True
    assert document["statistic"] == verdict.statistic
    assert document["p_value"] == verdict.details["p_value"]
    assert set(document) >= {"threshold", "sample_size", "reference_size", "min_samples"}
    assert all(not isinstance(v, dict | list) for v in document.values())


def test_verdict_is_immutable() -> None:
    verdict = Verdict(None, None, 0.2, 0, 0, "no_reference", {})
    with pytest.raises(AttributeError):
        verdict.reason = "drift"  # type: ignore[misc]


def test_a_vanishing_baseline_gives_a_json_safe_relative_change() -> None:
    """A baseline so small the relative change overflows reports none, like a zero one."""
    verdict = drift.anomaly_rate_change(
        baseline_rate=5e-324, baseline_n=10, anomalies=3, n=3, min_samples=0, min_change=0.0
    )
    assert verdict.details["relative_change"] is None
    json.dumps(verdict.to_json(), allow_nan=False)


def test_a_subnormal_baseline_rate_overflows_quietly_and_judges_like_no_baseline() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the ratio overflows: no RuntimeWarning may escape
        _, _, detected = drift.anomaly_rate_change_many(
            np.array([5e-324]), np.array([1000.0]), np.array([10.0]), np.array([1000.0])
        )
    assert detected.tolist() == [True]
