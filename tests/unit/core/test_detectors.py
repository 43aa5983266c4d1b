from __future__ import annotations

import numpy as np
import pytest

from seriesguard.core.detectors import ZScoreDetector, detector_class, detector_from_bytes
from seriesguard.core.errors import InvalidInput


def test_zscore_flags_points_beyond_threshold_sigma() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(10.0, 2.0, 10_000)
    ts = np.arange(values.size, dtype=np.float64)
    detector = ZScoreDetector.fit(values, ts, {"threshold_sigma": 3.0})
    assert detector.mean == pytest.approx(10.0, abs=0.1)
    assert detector.std == pytest.approx(2.0, abs=0.1)
    flags = detector.predict(
        np.array([detector.mean, detector.mean + 7 * detector.std]), np.zeros(2)
    )
    assert flags.tolist() == [False, True]
    assert detector.score_one(detector.mean + 7 * detector.std, 0.0) == pytest.approx(7.0)


def test_round_trip_through_bytes_scores_the_same() -> None:
    detector = ZScoreDetector(mean=1.5, std=0.25, threshold_sigma=2.5)
    again = detector_from_bytes(detector.to_bytes())
    probe = np.array([0.0, 1.5, 2.2, 9.0])
    assert np.array_equal(again.score(probe, probe), detector.score(probe, probe))
    assert again.threshold == 2.5


def test_alias_and_unknown_algorithm() -> None:
    assert detector_class("zscore") is detector_class("statistical")
    with pytest.raises(InvalidInput) as caught:
        detector_class("prophet")
    assert caught.value.rule == "unknown_algorithm"


@pytest.mark.parametrize(
    ("hyper", "rule"),
    [
        ({"threshold_sigma": -1}, "hyperparameter_range"),
        ({"window": 3}, "unknown_hyperparameter"),
        ({"threshold_sigma": "3"}, "hyperparameter_range"),
    ],
)
def test_bad_hyperparameters(hyper: dict, rule: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        ZScoreDetector.fit(np.array([1.0, 2.0]), np.array([0.0, 1.0]), hyper)
    assert caught.value.rule == rule
