"""The seasonal detector: hour-of-day / hour-of-week profiles of robust centres and spreads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seriesguard.core.detectors import (
    RobustDetector,
    SeasonalDetector,
    ZScoreDetector,
    detector_from_bytes,
    detector_from_params,
)
from seriesguard.core.detectors.seasonal import HOUR, buckets_for
from seriesguard.core.errors import InvalidInput

HYPER_LOC = ("body", "config", "hyperparameters")
DAY = 24 * HOUR


def _daily_sine(days: float, *, seed: int = 1, step: float = 300.0) -> tuple[np.ndarray, ...]:
    """A sensor following a daily cycle (amplitude 10) with noise 0.5, one point per step."""
    rng = np.random.default_rng(seed)
    ts = np.arange(0.0, days * DAY, step) + 1_700_000_000.0
    values = 20.0 + 10.0 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0.0, 0.5, ts.size)
    return values, ts


def test_seasonal_catches_spikes_a_global_z_score_misses() -> None:
    values, ts = _daily_sine(7)
    seasonal = SeasonalDetector.fit(values, ts, {})
    zscore = ZScoreDetector.fit(values, ts, {})
    assert len(seasonal.centres) == 24  # a week: daily profile (weekly needs two)
    # spikes of +6 (12 noise sigmas) at the trough of the cycle, on the next day
    test_values, test_ts = _daily_sine(1, seed=2)
    test_ts = test_ts + 7 * DAY
    trough = np.flatnonzero(np.sin(2 * np.pi * test_ts / DAY) < -0.9)[::10]
    spiked = test_values.copy()
    spiked[trough] += 6.0
    found = seasonal.predict(spiked, test_ts)
    assert found[trough].all()
    assert not zscore.predict(spiked, test_ts)[trough].any()
    # and it is quiet on the clean day
    assert seasonal.predict(test_values, test_ts).mean() < 0.01


def test_score_one_equals_score_element_wise() -> None:
    values, ts = _daily_sine(15, step=1800.0)
    detector = SeasonalDetector.fit(values, ts, {"threshold_sigma": 3})
    assert len(detector.centres) == 168  # two weeks of half-hours: weekly profile
    rng = np.random.default_rng(9)
    probe_ts = np.concatenate([rng.uniform(-1e10, 1e10, 500), [0.0, -1.0, 3599.999, 1e300]])
    probe = rng.normal(20.0, 15.0, probe_ts.size)
    expected = detector.score(probe, probe_ts)
    singles = [
        detector.score_one(x, t) for x, t in zip(probe.tolist(), probe_ts.tolist(), strict=True)
    ]
    assert singles == expected.tolist()


def test_params_round_trip_and_stay_small() -> None:
    values, ts = _daily_sine(15, step=1800.0)
    detector = SeasonalDetector.fit(values, ts, {"period": "auto", "threshold_sigma": 4.0})
    blob = detector.to_bytes()
    again = detector_from_bytes(blob)
    assert again == detector and isinstance(again, SeasonalDetector)
    params = json.loads(blob)["params"]
    assert len(params["centres"]) == len(params["spreads"]) == 168
    assert params["period"] == "auto" and params["threshold_sigma"] == 4.0
    assert detector_from_params("seasonal", params) == detector
    probe_ts = ts[:200] + 3 * DAY
    assert np.array_equal(
        again.score(values[:200], probe_ts), detector.score(values[:200], probe_ts)
    )


@pytest.mark.parametrize(
    ("period", "days", "step", "expected"),
    [
        ("auto", 1.0, 60.0, 1),  # one day cannot tell a cycle from a one-off
        ("auto", 3.0, 60.0, 24),
        ("auto", 14.0, 600.0, 168),
        ("auto", 14.0, 7200.0, 24),  # two points an hour-of-week: too thin for weekly
        ("daily", 1.0, 60.0, 24),
        ("daily", 30.0, 600.0, 24),
        ("weekly", 7.0, 600.0, 168),
        ("weekly", 3.0, 600.0, 1),
    ],
)
def test_profile_size_follows_period_and_window(
    period: str, days: float, step: float, expected: int
) -> None:
    ts = np.arange(0.0, days * DAY + step, step)
    assert buckets_for(period, ts) == expected


def test_short_window_is_flat_and_scores_like_the_robust_detector() -> None:
    rng = np.random.default_rng(4)
    values, ts = rng.normal(5.0, 2.0, 600), np.arange(600.0) * 60.0
    seasonal = SeasonalDetector.fit(values, ts, {})
    robust = RobustDetector.fit(values, ts, {})
    assert (len(seasonal.centres), seasonal.centres[0], seasonal.spreads[0]) == (
        1,
        robust.median,
        robust.scale,
    )
    probe = rng.normal(5.0, 10.0, 50)
    assert np.array_equal(seasonal.score(probe, probe * 1e6), robust.score(probe, probe))


def test_thin_and_empty_buckets_borrow_the_global_spread() -> None:
    values, ts = _daily_sine(3, step=60.0)
    keep = (ts // HOUR) % 24 != 5  # no data at 05:00 UTC in the window
    keep[np.flatnonzero((ts // HOUR) % 24 == 6)[2:]] = False  # 2 points at 06:00
    detector = SeasonalDetector.fit(values[keep], ts[keep], {"period": "daily"})
    detector.check()
    spreads = list(detector.spreads)
    typical = float(np.median(spreads))
    assert spreads[5] > 3 * typical  # empty: the global spread, cycle included
    assert spreads[6] > 0.5 * typical  # two points: shrunk toward the pooled spread


@pytest.mark.parametrize(
    ("hyper", "name"),
    [
        ({"period": "monthly"}, "period"),
        ({"period": 24}, "period"),
        ({"threshold_sigma": -2}, "threshold_sigma"),
        ({"target_false_alarm_rate": 0}, "target_false_alarm_rate"),
    ],
)
def test_bad_hyperparameters_are_refused(hyper: dict, name: str) -> None:
    for attempt in (
        lambda: SeasonalDetector.check_hyperparameters(hyper),
        lambda: SeasonalDetector.fit(np.arange(5.0), np.arange(5.0), hyper),
    ):
        with pytest.raises(InvalidInput) as caught:
            attempt()
        assert (caught.value.rule, caught.value.loc) == ("hyperparameter_range", (*HYPER_LOC, name))


@pytest.mark.parametrize(
    "params",
    [
        {"centres": [0.0] * 24, "spreads": [1.0] * 23},
        {"centres": [0.0] * 5, "spreads": [1.0] * 5},
        {"centres": [0.0], "spreads": [0.0]},
        {"centres": [float("nan")], "spreads": [1.0]},
        {"centres": [0.0], "spreads": [1.0], "period": "yearly"},
        {"centres": [0.0], "spreads": [1.0], "threshold_sigma": 0.0},
    ],
)
def test_check_refuses_params_that_cannot_serve(params: dict) -> None:
    with pytest.raises(ValueError):
        SeasonalDetector.from_params(params).check()


def test_from_params_refuses_a_period_that_is_not_text() -> None:
    with pytest.raises(TypeError):
        SeasonalDetector.from_params({"centres": [0.0], "spreads": [1.0], "period": 7})
