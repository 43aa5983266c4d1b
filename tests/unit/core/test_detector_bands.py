"""Detector.band: the centre and half-width it returns are exactly where the detector flags."""

from __future__ import annotations

from array import array

import numpy as np
import pytest

from seriesguard.core.detectors import RobustDetector, SeasonalDetector, ZScoreDetector
from seriesguard.core.detectors.base import Detector, FloatArray
from seriesguard.core.detectors.seasonal import HOUR

DAY = 24 * HOUR
START = 1_700_000_000.0


def _daily(days: float, *, seed: int = 3) -> tuple[FloatArray, FloatArray]:
    rng = np.random.default_rng(seed)
    ts = np.arange(0.0, days * DAY, 600.0) + START
    values = 20.0 + 10.0 * np.sin(2 * np.pi * ts / DAY) + rng.normal(0.0, 0.5, ts.size)
    return values, ts


def _assert_band_is_the_flagging_edge(detector: Detector, timestamps: FloatArray) -> None:
    band = detector.band(timestamps)
    assert band is not None
    centre, half_width = band
    assert centre.shape == half_width.shape == timestamps.shape
    assert np.all(half_width > 0)
    for side in (-1.0, 1.0):
        inside = centre + side * 0.99 * half_width
        outside = centre + side * 1.01 * half_width
        assert not detector.predict(inside, timestamps).any()
        assert detector.predict(outside, timestamps).all()
        # the hot path agrees with the vectorised one
        assert not any(
            detector.score_one(v, t) > detector.threshold
            for v, t in zip(inside.tolist(), timestamps.tolist(), strict=True)
        )


def test_zscore_band_is_mean_plus_minus_sigma_std() -> None:
    values, ts = _daily(3)
    detector = ZScoreDetector.fit(values, ts, {"threshold_sigma": 2.5})
    _assert_band_is_the_flagging_edge(detector, ts)
    band = detector.band(ts[:3])
    assert band is not None
    np.testing.assert_array_equal(band[0], [detector.mean] * 3)
    np.testing.assert_array_equal(band[1], [2.5 * detector.std] * 3)


def test_robust_band_is_median_plus_minus_threshold_scale() -> None:
    values, ts = _daily(3)
    detector = RobustDetector.fit(values, ts, {"target_false_alarm_rate": 0.01})
    _assert_band_is_the_flagging_edge(detector, ts)
    band = detector.band(ts[:2])
    assert band is not None
    np.testing.assert_array_equal(band[0], [detector.median] * 2)
    np.testing.assert_array_equal(band[1], [detector.threshold * detector.scale] * 2)


def test_seasonal_band_follows_each_timestamps_bucket() -> None:
    values, ts = _daily(7)
    detector = SeasonalDetector.fit(values, ts, {})
    assert len(detector.centres) == 24
    later = ts + 7 * DAY  # unseen days: the band comes from the profile, not the data
    _assert_band_is_the_flagging_edge(detector, later)
    band = detector.band(later)
    assert band is not None
    # it varies over the day: the centre follows the cycle (amplitude 10)
    assert float(np.ptp(band[0])) > 15.0
    hour = int((later[0] // HOUR) % 24)
    assert band[0][0] == detector.centres[hour]
    assert band[1][0] == detector.threshold * detector.spreads[hour]


def test_flat_seasonal_band_is_constant() -> None:
    values, ts = _daily(0.5)
    detector = SeasonalDetector.fit(values, ts, {})
    assert len(detector.centres) == 1
    _assert_band_is_the_flagging_edge(detector, ts)


@pytest.mark.parametrize(
    "detector",
    [
        ZScoreDetector(mean=1.0, std=0.0),
        RobustDetector(median=1.0, scale=0.0),
        SeasonalDetector(centres=array("d", [1.0]), spreads=array("d", [0.0])),
    ],
    ids=["zscore", "robust", "seasonal"],
)
def test_a_detector_that_flags_nothing_has_no_band(detector: Detector) -> None:
    ts = np.array([START, START + 60.0])
    assert not detector.predict(np.array([-1e9, 1e9]), ts).any()
    assert detector.band(ts) is None
