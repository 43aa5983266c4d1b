"""The residual detector: a forecast that follows the series, novelty-gated scores, its
hyperparameters and the check of imported parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from seriesguard.core.detectors import ResidualDetector, detector_from_params
from seriesguard.core.errors import InvalidInput

STEP = 300.0  # 5-minute sampling
DAY = 86_400.0
HYPER_LOC = ("body", "config", "hyperparameters")


def _sensor(n: int, *, seed: int, start: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A daily cycle with noise, 5-minute steps."""
    rng = np.random.default_rng(seed)
    ts = start + np.arange(n, dtype=np.float64) * STEP
    return 10.0 + 3.0 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0.0, 0.3, n), ts


def _trained(**hyper: Any) -> tuple[ResidualDetector, np.ndarray]:
    values, ts = _sensor(2_016, seed=1)  # a week
    return ResidualDetector.fit(values, ts, hyper), ts


def _flags(detector: ResidualDetector, values: np.ndarray, ts: np.ndarray) -> np.ndarray:
    return (
        np.array([detector.score_one(float(v), float(t)) for v, t in zip(values, ts, strict=True)])
        > detector.threshold
    )


def test_a_week_of_training_learns_the_daily_profile_and_stays_quiet_on_the_next_week() -> None:
    detector, ts = _trained()
    assert len(detector.fitted.seasonal) == 24
    values, later = _sensor(2_016, seed=2, start=ts[-1] + STEP)
    assert _flags(detector, values, later).mean() < 0.005


def test_a_spike_is_flagged_once_and_a_level_shift_at_its_onset_only() -> None:
    detector, ts = _trained()
    values, later = _sensor(600, seed=3, start=ts[-1] + STEP)
    values[100] += 6.0  # a spike: 20 noise sigmas
    values[300:] += 8.0  # a step that stays
    flags = _flags(detector, values, later)
    assert flags[100] and flags[300]
    assert not flags[101:300].any() and flags[301:].sum() == 0
    # Not only gated: the forecast has followed the new level (in clipped steps), so even
    # without gating the residuals are back to noise within a few points of the step.
    ungated, _ = _trained(rearm_points=0)
    scores = ungated.score_stream(values, later)
    assert scores[300] > 20 and float(np.median(scores[320:])) < 1.5


def test_an_excursion_no_larger_than_a_recent_one_is_gated_and_rearm_zero_scores_every_point() -> (
    None
):
    values, later = _sensor(200, seed=4, start=2_016 * STEP)
    values[50] += 8.0
    values[120] += 6.0  # smaller than the one 70 points before
    gated, _ = _trained()
    assert _flags(gated, values, later)[[50, 120]].tolist() == [True, False]
    every, _ = _trained(rearm_points=0, threshold_margin=gated.threshold_margin)
    assert _flags(every, values, later)[[50, 120]].tolist() == [True, True]
    small, _ = _trained(rearm_points=30)  # the window has passed by point 120
    assert _flags(small, values, later)[[50, 120]].tolist() == [True, True]


def test_a_restarted_predictor_resumes_from_the_end_of_training() -> None:
    detector, ts = _trained()
    restarted = detector_from_params("residual", detector.params())
    values, later = _sensor(300, seed=5, start=ts[-1] + STEP)
    assert np.array_equal(restarted.score(values, later), detector.score(values, later))
    assert restarted.fitted.last_timestamp == ts[-1]


def test_the_threshold_is_the_margin_times_the_training_quantile() -> None:
    one, _ = _trained(threshold_margin=1.0)
    two, _ = _trained(threshold_margin=2.0)
    assert two.threshold == pytest.approx(2.0 * one.threshold)
    stricter, _ = _trained(threshold_margin=1.0, target_false_alarm_rate=0.001)
    assert stricter.threshold > one.threshold


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("level_smoothing", 0),
        ("level_smoothing", 1.5),
        ("seasonal_smoothing", -0.1),
        ("scale_smoothing", True),
        ("rearm_points", -1),
        ("rearm_points", 2.5),
        ("rearm_points", 10**9),
        ("period", "hourly"),
        ("target_false_alarm_rate", 0.5),
        ("threshold_margin", 0),
    ],
)
def test_bad_hyperparameters_name_the_field(name: str, value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        ResidualDetector.check_hyperparameters({name: value})
    assert caught.value.rule == "hyperparameter_range"
    assert caught.value.loc == (*HYPER_LOC, name)


@pytest.mark.parametrize(
    "corrupt",
    [
        {"seasonal": [0.0] * 7},
        {"scale": float("nan")},
        {"scale_floor": 0.0},
        {"threshold": -1.0},
        {"level_smoothing": 2.0},
        {"peaks": [[3, 1.0]]},
        {"period": "yearly"},
    ],
)
def test_check_refuses_parameters_that_cannot_serve(corrupt: dict[str, Any]) -> None:
    detector, _ = _trained()
    imported = detector_from_params("residual", {**detector.params(), **corrupt})
    with pytest.raises(ValueError):
        imported.check()


def test_a_constant_training_window_still_gives_a_usable_scale() -> None:
    values = np.r_[np.full(500, 4.0), 4.5]
    ts = np.arange(values.size, dtype=np.float64) * STEP
    detector = ResidualDetector.fit(values, ts, {})
    detector.check()
    assert detector.fitted.scale > 0 and np.isfinite(detector.score(values, ts)).all()


def test_the_band_is_the_fitted_forecast_and_the_threshold_distance() -> None:
    detector, ts = _trained(rearm_points=0)
    later = ts[-1] + STEP * np.arange(1, 49, dtype=np.float64)  # the next four hours
    band = detector.band(later)
    assert band is not None
    centre, half = band
    for t, c, h in zip(later[:3], centre[:3], half[:3], strict=True):
        fresh = ResidualDetector.from_params(detector.params())  # the fitted state each time
        assert fresh.score_one(float(c + 0.99 * h), float(t)) <= fresh.threshold
        fresh = ResidualDetector.from_params(detector.params())
        assert fresh.score_one(float(c + 1.01 * h), float(t)) > fresh.threshold


def test_training_scores_replay_the_window_as_fit_saw_it() -> None:
    """The anomaly-rate baseline counts the training window as fitting saw it: from the state
    before it. Scored from the state after it, a window whose level drifted looks anomalous."""
    values, ts = _sensor(2_016, seed=6)
    values = values + np.linspace(0.0, 30.0, values.size)  # the level climbs 100 noise sigmas
    detector = ResidualDetector.fit(values, ts, {})
    in_sample = detector.training_scores(values, ts) > detector.threshold
    assert in_sample.mean() < 0.01
    assert (detector.score(values, ts) > detector.threshold).any()  # the state after it
