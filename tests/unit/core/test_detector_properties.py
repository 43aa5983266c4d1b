"""Property-based tests of the detector catalogue and the z-score detector.

Covers ``seriesguard.core.detectors`` (Detector, ZScoreDetector, detector_class,
detector_from_params, detector_from_bytes, check_hyperparameters) and the scoring paths that
serve it (``serving.scorer.Scorer`` and ``serving.batch.score_batch``): a fitted detector
survives params / JSON / bytes round trips scoring every point identically; scores of finite
points are finite and non-negative; the verdict is exactly ``score > threshold``; z-scores do
not depend on the units (affine change of data and points); single-point, vectorised and batch
scoring agree to the bit; bad hyperparameters and algorithm names are refused with InvalidInput
and nothing else.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from seriesguard.core.detectors import (
    ALGORITHMS,
    ZScoreDetector,
    detector_class,
    detector_from_bytes,
    detector_from_params,
)
from seriesguard.core.errors import InvalidInput
from seriesguard.core.validation import MIN_STD, PointLimits, validate_training_data
from seriesguard.serving.batch import BatchPoints, group_rows, score_batch
from seriesguard.serving.scorer import ModelInfo, Scorer

PROPS = settings(max_examples=150, deadline=None, derandomize=True)
HYPER_LOC = ("body", "config", "hyperparameters")
VALUE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
PROBE = st.floats(-1e200, 1e200, allow_nan=False, allow_infinity=False)
SIGMA = st.floats(1e-3, 1e3) | st.integers(1, 100)
# The detectors whose threshold is a number of sigmas and whose score of a point does not depend
# on the points before it; stateful ones have their own properties (test_stateful_detectors.py).
SIGMA_ALGORITHMS = sorted(
    name
    for name, cls in ALGORITHMS.items()
    if "threshold_sigma" in cls.hyperparameter_names and not cls.stateful
)
NAME = st.sampled_from(SIGMA_ALGORITHMS)
INFO = ModelInfo("v1", "production", "mlflow_trained", "test", "high")


def training_values(low: float = -1e6, high: float = 1e6, min_std: float = MIN_STD) -> Any:
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False)
    return hnp.arrays(np.float64, st.integers(2, 200), elements=elements).filter(
        lambda a: float(np.std(a)) > min_std
    )


def _centre(detector: Any) -> float:
    """The value a detector scores 0 at timestamp 0: its mean, its median, or the centre of
    the bucket of timestamp 0 (the training window here is too short for a profile)."""
    for name in ("mean", "median"):
        if hasattr(detector, name):
            return float(getattr(detector, name))
    return float(detector.centres[0])


def fit(name: str, values: np.ndarray, sigma: float) -> Any:
    ts = np.arange(values.size, dtype=np.float64)
    return detector_class(name).fit(values, ts, {"threshold_sigma": sigma})


@PROPS
@given(NAME, training_values(), SIGMA, hnp.arrays(np.float64, st.integers(0, 50), elements=PROBE))
def test_round_trips_score_every_point_identically(
    name: str, values: np.ndarray, sigma: float, probe: np.ndarray
) -> None:
    detector = fit(name, values, sigma)
    params = json.loads(json.dumps(detector.params()))
    copies = [
        detector_from_params(name, params),
        detector_from_params(detector.algorithm, detector.params()),
        detector_from_bytes(detector.to_bytes()),
    ]
    expected = detector.score(probe, probe)
    for copy in copies:
        assert copy == detector and copy.threshold == detector.threshold == float(sigma)
        assert np.array_equal(copy.score(probe, probe), expected)
        assert np.array_equal(copy.predict(probe, probe), detector.predict(probe, probe))
        assert [copy.score_one(float(x), 0.0) for x in probe] == expected.tolist()


@PROPS
@given(NAME, training_values(), SIGMA, hnp.arrays(np.float64, st.integers(1, 50), elements=PROBE))
def test_scores_are_finite_non_negative_and_verdict_is_score_above_threshold(
    name: str, values: np.ndarray, sigma: float, probe: np.ndarray
) -> None:
    detector = fit(name, values, sigma)
    detector.check()
    scores = detector.score(probe, probe)
    assert scores.shape == probe.shape and scores.dtype == np.float64
    assert np.isfinite(scores).all() and (scores >= 0).all()
    assert np.array_equal(detector.predict(probe, probe), scores > detector.threshold)
    assert detector.score_one(_centre(detector), 0.0) == 0.0
    scorer = Scorer(detector=detector, info=INFO)
    many, threshold = scorer.score_many(probe, probe)
    assert np.array_equal(many, scores) and threshold == detector.threshold
    for x, score in zip(probe.tolist(), scores.tolist(), strict=True):
        assert scorer.score_one(x, 0.0) == (score > detector.threshold, score)


@PROPS
@given(
    training_values(-1e3, 1e3, min_std=1e-2),
    st.floats(1e-3, 1e3) | st.floats(-1e3, -1e-3),
    st.floats(-1e4, 1e4),
    hnp.arrays(np.float64, st.integers(1, 20), elements=st.floats(-1e3, 1e3)),
)
def test_z_scores_do_not_depend_on_units(
    values: np.ndarray, scale: float, shift: float, probe: np.ndarray
) -> None:
    plain = ZScoreDetector.fit(values, values, {})
    moved = ZScoreDetector.fit(scale * values + shift, values, {})
    z = plain.score(probe, probe)
    z_moved = moved.score(scale * probe + shift, probe)
    np.testing.assert_allclose(z_moved, z, rtol=1e-6, atol=1e-5)
    assert moved.std == pytest.approx(abs(scale) * plain.std, rel=1e-9)


BAD_SIGMA = (
    st.floats(max_value=0.0)
    | st.sampled_from([math.nan, math.inf, -math.inf, True, False, None, "3", [3.0], 3 + 0j])
    | st.integers(-(2**63), 0)
)


@PROPS
@given(NAME, BAD_SIGMA)
def test_bad_threshold_sigma_is_refused_by_check_and_fit(name: str, sigma: object) -> None:
    cls = detector_class(name)
    for attempt in (
        lambda: cls.check_hyperparameters({"threshold_sigma": sigma}),
        lambda: cls.fit(np.arange(5.0), np.arange(5.0), {"threshold_sigma": sigma}),
    ):
        with pytest.raises(InvalidInput) as caught:
            attempt()
        assert caught.value.rule == "hyperparameter_range"
        assert caught.value.loc == (*HYPER_LOC, "threshold_sigma")


@PROPS
@given(NAME, st.dictionaries(st.text(max_size=12), st.none() | SIGMA, min_size=1, max_size=4))
def test_unknown_hyperparameter_names_the_first_unknown(name: str, hyper: dict) -> None:
    unknown = sorted(set(hyper) - {"threshold_sigma"})
    assume(unknown)
    with pytest.raises(InvalidInput) as caught:
        detector_class(name).check_hyperparameters(hyper)
    assert (caught.value.rule, caught.value.loc) == (
        "unknown_hyperparameter",
        (*HYPER_LOC, unknown[0]),
    )


JSONISH = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(-(2**63), 2**64 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@PROPS
@given(NAME, st.dictionaries(st.sampled_from(["threshold_sigma", "window", ""]), JSONISH))
def test_check_hyperparameters_accepts_or_raises_invalid_input_only(name: str, hyper: dict) -> None:
    try:
        detector_class(name).check_hyperparameters(hyper)
    except InvalidInput:
        return
    sigma = hyper.get("threshold_sigma", 3.0)
    assert set(hyper) <= {"threshold_sigma"}
    assert not isinstance(sigma, bool) and math.isfinite(sigma) and sigma > 0


@pytest.mark.parametrize("sigma", [10**400, -(10**400), -(2**64)])
def test_integer_threshold_sigma_beyond_float_or_negative_is_refused(sigma: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        ZScoreDetector.check_hyperparameters({"threshold_sigma": sigma})
    assert caught.value.rule == "hyperparameter_range"


@PROPS
@given(st.text(max_size=20) | NAME)
def test_detector_class_knows_exactly_the_catalogue(algorithm: str) -> None:
    if algorithm in ALGORITHMS:
        assert detector_class(algorithm) is ALGORITHMS[algorithm]
        return
    with pytest.raises(InvalidInput) as caught:
        detector_from_params(algorithm, {"mean": 0.0, "std": 1.0})
    assert caught.value.rule == "unknown_algorithm"


class _ResidentOnly:
    """The part of a Predictor that score_batch uses, with every model resident."""

    fallback_enabled = True

    def __init__(self, scorers: dict[str, Scorer]) -> None:
        self.scorers = scorers

    def resident_scorer(self, series_id: str) -> Scorer | None:
        return self.scorers.get(series_id)


@PROPS
@given(
    st.lists(st.tuples(VALUE, st.floats(1e-3, 1e3), SIGMA), min_size=1, max_size=5),
    st.data(),
)
def test_batch_scoring_agrees_with_single_point_scoring(models: list, data: st.DataObject) -> None:
    ids = [f"s{i}" for i in range(len(models))]
    detectors = [ZScoreDetector(mean=m, std=s, threshold_sigma=float(t)) for m, s, t in models]
    n = data.draw(st.integers(0, 60), label="points")
    codes = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, len(ids) - 1)))
    values = data.draw(hnp.arrays(np.float64, n, elements=VALUE), label="values")
    bounds, run_codes, rows = group_rows(codes)
    order = np.arange(n) if rows is None else rows
    points = BatchPoints(
        series_ids=[ids[c] for c in run_codes.tolist()],
        bounds=bounds,
        timestamps=np.arange(n, dtype=np.float64)[order],
        values=values[order],
        run_loc=lambda i: ("body", "series", i),
        rows=rows,
    )
    assert all(len(set(codes[order][lo:hi].tolist())) == 1 for lo, hi in itertools.pairwise(bounds))
    scorers = {i: Scorer(detector=d, info=INFO) for i, d in zip(ids, detectors, strict=True)}
    predictor = _ResidentOnly(scorers)
    scores, anomalies = score_batch(predictor, points).in_request_order()  # type: ignore[arg-type]
    for row, (code, value) in enumerate(zip(codes.tolist(), values.tolist(), strict=True)):
        single = predictor.scorers[ids[code]].score_one(value, float(row))
        assert (bool(anomalies[row]), float(scores[row])) == single


@pytest.mark.parametrize("values", [[1.7e308, 1e308] * 5, [1e308, -1e308] * 5])
def test_values_whose_statistics_overflow_are_refused(values: list[float]) -> None:
    """Finite values whose mean or spread is not: no detector could be fit on them."""
    with pytest.raises(InvalidInput) as caught:
        validate_training_data(np.arange(10.0), values, limits=PointLimits(10, 20))
    assert caught.value.rule == "value_range"
