"""Threshold calibration to a target false-alarm rate, on every detector."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seriesguard.core.detectors import ALGORITHMS, detector_class, detector_from_bytes
from seriesguard.core.detectors.calibration import (
    MIN_THRESHOLD,
    calibrated_threshold,
    target_rate,
)
from seriesguard.core.errors import InvalidInput

RATE = "target_false_alarm_rate"
DAY = 86_400.0


def _sensor(n: int, seed: int, start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A heavy-tailed daily-cycle sensor: Student-t noise (3 dof) on a sine, minute steps."""
    rng = np.random.default_rng(seed)
    ts = start + np.arange(n, dtype=np.float64) * 60.0
    values = 3.0 * np.sin(2 * np.pi * ts / DAY) + rng.standard_t(3, n)
    return values, ts


def _plain(algorithm: str, **hyper: object) -> dict[str, object]:
    """``hyper`` plus what makes the threshold the plain training quantile: no margin and no
    novelty gating (residual); threshold_sigma only where the algorithm knows it."""
    known = detector_class(algorithm).hyperparameter_names
    plain = {"threshold_margin": 1.0, "rearm_points": 0}
    chosen = {**{k: v for k, v in plain.items() if k in known}, **hyper}
    return {k: v for k, v in chosen.items() if k in known}


SIGMA_ALGORITHMS = sorted(
    a for a, c in ALGORITHMS.items() if "threshold_sigma" in c.hyperparameter_names
)


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
@pytest.mark.parametrize("rate", [0.01, 0.05])
def test_calibrated_threshold_gives_about_the_target_rate_on_held_out_data(
    algorithm: str, rate: float
) -> None:
    values, ts = _sensor(20_000, seed=1)
    hyper = _plain(algorithm, **{RATE: rate, "threshold_sigma": 3})
    detector = detector_class(algorithm).fit(values, ts, hyper)
    held_values, held_ts = _sensor(20_000, seed=2, start=ts[-1] + 60.0)  # the weeks after
    observed = float(detector.predict(held_values, held_ts).mean())
    assert observed == pytest.approx(rate, rel=0.3)
    assert detector.params()[RATE] == rate
    again = detector_from_bytes(detector.to_bytes())
    assert again == detector and again.threshold == detector.threshold


@pytest.mark.parametrize("algorithm", SIGMA_ALGORITHMS)
def test_without_a_rate_the_threshold_is_threshold_sigma(algorithm: str) -> None:
    values, ts = _sensor(2_000, seed=3)
    detector = detector_class(algorithm).fit(values, ts, {"threshold_sigma": 4.5})
    assert detector.threshold == 4.5 and RATE not in detector.params()


@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_retraining_with_the_fitted_params_recalibrates(algorithm: str) -> None:
    """The scheduler retrains with the fitted params' hyperparameter names: the rate wins."""
    values, ts = _sensor(5_000, seed=4)
    cls = detector_class(algorithm)
    first = cls.fit(values, ts, {RATE: 0.02})
    hyper = {k: v for k, v in first.params().items() if k in cls.hyperparameter_names}
    assert hyper[RATE] == 0.02
    second = cls.fit(values * 2.0, ts, hyper)
    assert second.threshold == pytest.approx(first.threshold, rel=1e-6)


@pytest.mark.parametrize(
    "raw", [0, 0.5, 0.9, -0.1, math.nan, math.inf, True, "0.01", [0.01], 10**400]
)
@pytest.mark.parametrize("algorithm", sorted(ALGORITHMS))
def test_bad_rates_are_refused(algorithm: str, raw: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        detector_class(algorithm).check_hyperparameters({RATE: raw})
    assert caught.value.rule == "hyperparameter_range"
    assert caught.value.loc == ("body", "config", "hyperparameters", RATE)


def test_target_rate_absent_or_null_means_not_calibrated() -> None:
    assert target_rate({}) is None and target_rate({RATE: None}) is None
    assert target_rate({RATE: 0.25}) == 0.25


def test_threshold_is_the_upper_quantile_and_never_zero() -> None:
    scores = np.arange(1.0, 101.0)
    assert calibrated_threshold(scores, rate=0.1) == pytest.approx(90.1)
    assert (scores > calibrated_threshold(scores, rate=0.1)).sum() == 10
    assert calibrated_threshold(np.zeros(50), rate=0.1) == MIN_THRESHOLD
    assert calibrated_threshold(np.array([math.nan]), rate=0.1) == MIN_THRESHOLD
