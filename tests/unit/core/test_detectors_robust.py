"""The robust (median / MAD) detector: learns through the outliers it is trained on."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seriesguard.core.detectors import (
    RobustDetector,
    ZScoreDetector,
    detector_class,
    detector_from_bytes,
)
from seriesguard.core.detectors.robust import DEFAULT_THRESHOLD_SIGMA, robust_scale
from seriesguard.core.errors import InvalidInput

HYPER_LOC = ("body", "config", "hyperparameters")


def _level_with_outliers(seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = rng.normal(50.0, 1.0, 5_000)
    spikes = rng.choice(values.size, 100, replace=False)  # 2 % of the window
    values[spikes] += rng.choice([-1.0, 1.0], spikes.size) * 40.0
    return values, np.arange(values.size, dtype=np.float64) * 60.0


def test_robust_is_not_dragged_by_the_outliers_it_is_trained_on() -> None:
    values, ts = _level_with_outliers()
    robust = RobustDetector.fit(values, ts, {})
    zscore = ZScoreDetector.fit(values, ts, {})
    assert robust.median == pytest.approx(50.0, abs=0.1)
    assert robust.scale == pytest.approx(1.0, abs=0.1)
    assert zscore.std > 5.0  # the same spikes inflate the standard deviation
    # a 10-sigma excursion: the robust model flags it, the z-score trained on spikes does not
    probe = np.array([50.0, 60.0])
    assert robust.predict(probe, probe).tolist() == [False, True]
    assert zscore.predict(probe, probe).tolist() == [False, False]
    assert robust.threshold == DEFAULT_THRESHOLD_SIGMA == 3.5


def test_score_one_equals_score_element_wise() -> None:
    values, ts = _level_with_outliers(5)
    detector = RobustDetector.fit(values, ts, {"threshold_sigma": 4})
    probe = np.linspace(-100.0, 200.0, 301)
    expected = detector.score(probe, probe)
    assert [detector.score_one(x, 0.0) for x in probe.tolist()] == expected.tolist()
    assert detector.score_one(detector.median + 2 * detector.scale, 0.0) == pytest.approx(2.0)


def test_params_round_trip_through_bytes() -> None:
    values, ts = _level_with_outliers(7)
    detector = RobustDetector.fit(values, ts, {"threshold_sigma": 2.5})
    again = detector_from_bytes(detector.to_bytes())
    assert again == detector and isinstance(again, RobustDetector)
    assert json.loads(detector.to_bytes())["algorithm"] == "robust"
    assert set(detector.params()) == {"median", "scale", "threshold_sigma"}
    probe = np.array([0.0, 49.0, 55.5, 1e9])
    assert np.array_equal(again.score(probe, probe), detector.score(probe, probe))
    assert detector_class("robust") is RobustDetector


def test_mad_zero_falls_back_to_the_mean_absolute_deviation() -> None:
    # a quantised sensor: 70 % of the points on one value, so the MAD is 0
    values = np.array([0.0] * 70 + [1.0] * 30)
    detector = RobustDetector.fit(values, np.arange(100.0), {})
    assert detector.median == 0.0
    assert detector.scale == pytest.approx(1.253314 * 0.3)
    detector.check()
    assert detector.score_one(1.0, 0.0) < detector.threshold  # a usual reading is no alarm
    assert detector.score_one(5.0, 0.0) > detector.threshold


def test_constant_window_scores_zero_and_does_not_pass_check() -> None:
    detector = RobustDetector.fit(np.full(10, 4.0), np.arange(10.0), {})
    assert detector.scale == 0.0 and robust_scale(np.array([])) == 0.0
    assert detector.score(np.array([4.0, 9.0]), np.zeros(2)).tolist() == [0.0, 0.0]
    assert detector.score_one(9.0, 0.0) == 0.0
    with pytest.raises(ValueError, match="scale"):
        detector.check()


@pytest.mark.parametrize(
    ("hyper", "rule", "name"),
    [
        ({"threshold_sigma": 0}, "hyperparameter_range", "threshold_sigma"),
        ({"threshold_sigma": "3"}, "hyperparameter_range", "threshold_sigma"),
        ({"target_false_alarm_rate": 0.5}, "hyperparameter_range", "target_false_alarm_rate"),
        ({"period": "daily"}, "unknown_hyperparameter", "period"),
    ],
)
def test_bad_hyperparameters_are_refused(hyper: dict, rule: str, name: str) -> None:
    for attempt in (
        lambda: RobustDetector.check_hyperparameters(hyper),
        lambda: RobustDetector.fit(np.arange(5.0), np.arange(5.0), hyper),
    ):
        with pytest.raises(InvalidInput) as caught:
            attempt()
        assert (caught.value.rule, caught.value.loc) == (rule, (*HYPER_LOC, name))


@pytest.mark.parametrize(
    "params",
    [
        {"median": 0.0, "scale": 0.0},
        {"median": 0.0, "scale": 1.0, "threshold_sigma": -1.0},
        {"median": 0.0, "scale": 1.0, "target_false_alarm_rate": 0.7},
    ],
)
def test_check_refuses_params_that_cannot_serve(params: dict) -> None:
    with pytest.raises(ValueError):
        RobustDetector.from_params(params).check()
