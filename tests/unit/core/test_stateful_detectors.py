"""Properties every stateful detector keeps (``Detector.stateful``): live scoring point by point
equals scoring the same points from the fitted state; ``score`` never moves the live state; a
replayed timestamp is scored but not learnt; the model round-trips through params and bytes."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from seriesguard.core.detectors import (
    ALGORITHMS,
    detector_class,
    detector_from_bytes,
    detector_from_params,
    normalized_scores,
)
from seriesguard.serving.scorer import ModelInfo, Scorer

STATEFUL = sorted(name for name, cls in ALGORITHMS.items() if cls.stateful)
PROPS = settings(max_examples=25, deadline=None, derandomize=True)
INFO = ModelInfo("v1", "production", "mlflow_trained", "test", "high")
STEP = 300.0


def _fitted(name: str, seed: int = 0, n: int = 600) -> Any:
    rng = np.random.default_rng(seed)
    ts = np.arange(n, dtype=np.float64) * STEP
    values = np.sin(ts / 7_200.0) + rng.normal(0.0, 0.2, n)
    return detector_class(name).fit(values, ts, {})


def _after(detector: Any, values: np.ndarray) -> np.ndarray:
    """Timestamps that continue the training window."""
    start = 600 * STEP
    return start + np.arange(values.size, dtype=np.float64) * STEP


PROBE = hnp.arrays(np.float64, st.integers(1, 60), elements=st.floats(-50, 50))


def test_there_is_a_stateful_detector() -> None:
    assert "residual" in STATEFUL


@pytest.mark.parametrize("name", STATEFUL)
@PROPS
@given(values=PROBE)
def test_live_scoring_equals_scoring_from_the_fitted_state(name: str, values: np.ndarray) -> None:
    detector = _fitted(name)
    ts = _after(detector, values)
    expected = detector.score(values, ts)
    live = [detector.score_one(float(v), float(t)) for v, t in zip(values, ts, strict=True)]
    assert live == expected.tolist()
    assert np.array_equal(detector.score(values, ts), expected)  # score did not move
    fresh = detector_from_bytes(detector.to_bytes())
    assert np.array_equal(fresh.score_stream(values, ts), expected)
    assert np.isfinite(expected).all() and (expected >= 0).all()
    normalized = normalized_scores(expected, detector.threshold)
    assert ((normalized >= 0) & (normalized <= 1)).all()
    assert np.array_equal(normalized > 0.5, expected > detector.threshold)


@pytest.mark.parametrize("name", STATEFUL)
def test_live_state_advances_and_score_stays_pure(name: str) -> None:
    detector = _fitted(name)
    values = np.full(50, 5.0)  # a new level: the forecast must follow it
    ts = _after(detector, values)
    before = detector.score(values, ts)
    streamed = detector.score_stream(values, ts)
    assert np.array_equal(streamed, before)
    # The live state has learnt the new level: the next point at that level scores less than
    # it would from the fitted state.
    later = ts[-1:] + STEP
    assert detector.score_one(5.0, float(later[0])) <= detector.score(np.array([5.0]), later)[0]


@pytest.mark.parametrize("name", STATEFUL)
def test_a_replayed_timestamp_is_scored_but_not_learnt(name: str) -> None:
    detector, twin = _fitted(name), _fitted(name)
    values = np.array([0.1, 0.3, -0.2, 4.0, 0.0, 0.2])
    ts = _after(detector, values)
    for v, t in zip(values[:3], ts[:3], strict=True):
        detector.score_one(float(v), float(t))
        twin.score_one(float(v), float(t))
    detector.score_one(40.0, float(ts[1]))  # an old point sent again (a retry, a replay)
    rest = [detector.score_one(float(v), float(t)) for v, t in zip(values[3:], ts[3:], strict=True)]
    assert rest == [
        twin.score_one(float(v), float(t)) for v, t in zip(values[3:], ts[3:], strict=True)
    ]


@pytest.mark.parametrize("name", STATEFUL)
def test_round_trip_keeps_the_model_and_not_the_live_state(name: str) -> None:
    detector = _fitted(name)
    values = np.linspace(0.0, 3.0, 40)
    ts = _after(detector, values)
    detector.score_stream(values, ts)  # live traffic; the model is unchanged by it
    params = json.loads(json.dumps(detector.params()))
    for copy in (
        detector_from_params(name, params),
        detector_from_bytes(detector.to_bytes()),
    ):
        copy.check()
        assert copy == detector and copy.threshold == detector.threshold
        assert np.array_equal(copy.score(values, ts), detector.score(values, ts))


@pytest.mark.parametrize("name", STATEFUL)
def test_the_scorer_verdict_is_score_above_threshold_and_batches_advance_the_state(
    name: str,
) -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(0.0, 1.0, 80)
    values[20], values[60] = 30.0, 45.0  # the second larger: novelty gating lets it through
    one, many = Scorer(detector=_fitted(name), info=INFO), Scorer(detector=_fitted(name), info=INFO)
    ts = _after(one.detector, values)
    answers = [one.score_one(float(v), float(t)) for v, t in zip(values, ts, strict=True)]
    scores, threshold = many.score_many(values, ts)
    assert [s for _, s in answers] == scores.tolist()
    assert [a for a, _ in answers] == (scores > threshold).tolist()
    assert answers[20][0] and answers[60][0]
