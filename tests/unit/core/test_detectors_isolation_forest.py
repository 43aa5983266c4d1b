"""The isolation forest detector: deterministic, exact round trips, live state, detection."""

from __future__ import annotations

import json
from array import array
from typing import Any

import numpy as np
import pytest

from seriesguard.core.detectors import (
    ALGORITHMS,
    IsolationForestDetector,
    detector_class,
    detector_from_bytes,
    detector_from_params,
)
from seriesguard.core.detectors.isolation_forest import DEFAULT_RATE
from seriesguard.core.errors import InvalidInput

HYPER_LOC = ("body", "config", "hyperparameters")
STEP = 60.0
PERIOD = 288  # points a cycle


def _sine(n: int, seed: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy sine (amplitude 10, noise 0.3) sampled every minute from point ``start``."""
    rng = np.random.default_rng(seed)
    k = np.arange(start, start + n, dtype=np.float64)
    return 10.0 * np.sin(2 * np.pi * k / PERIOD) + rng.normal(0.0, 0.3, n), k * STEP


def _fitted(seed: int = 1, **hyper: Any) -> IsolationForestDetector:
    values, ts = _sine(2_000, seed)
    return IsolationForestDetector.fit(values, ts, hyper)


def test_it_is_in_the_catalogue_and_stateful() -> None:
    assert ALGORITHMS["isolation_forest"] is IsolationForestDetector
    assert IsolationForestDetector.stateful


def test_same_seed_same_model_other_seed_other_model() -> None:
    first, again = _fitted(random_state=7), _fitted(random_state=7)
    assert first == again and first.params() == again.params()
    other = _fitted(random_state=8)
    assert other.params()["split"] != first.params()["split"]


def test_params_and_bytes_round_trip_score_identically() -> None:
    detector = _fitted()
    detector.check()
    later, later_ts = _sine(500, seed=2, start=2_000)
    expected = detector.score(later, later_ts)
    copies = [
        detector_from_params("isolation_forest", json.loads(json.dumps(detector.params()))),
        detector_from_bytes(detector.to_bytes()),
    ]
    for copy in copies:
        copy.check()
        assert copy == detector and copy.threshold == detector.threshold
        assert np.array_equal(copy.score(later, later_ts), expected)


def test_default_model_is_small_and_its_splits_short() -> None:
    detector = _fitted()
    params = detector.params()
    assert params["n_trees"] == len(params["roots"]) == 50
    assert len(detector.to_bytes()) < 60_000  # docs/detectors.md: ~40 KB
    resident = sum(a.itemsize * len(a) for a in (detector.feature, detector.split, detector.child))
    assert resident < 60_000
    digits = [len(repr(s)) for s in params["split"]]
    assert np.median(digits) <= 8  # shortest decimals, not 17-digit floats


def test_score_one_in_order_equals_score_from_the_fitted_state() -> None:
    detector = _fitted()
    fresh = detector_from_bytes(detector.to_bytes())
    values, ts = _sine(300, seed=3, start=2_000)
    values[[40, 41, 200]] += [9.0, -9.0, 6.0]
    expected = detector.score(values, ts)
    live = [fresh.score_one(float(v), float(t)) for v, t in zip(values, ts, strict=True)]
    assert live == expected.tolist()  # bit for bit
    streamed = detector_from_bytes(detector.to_bytes())
    assert np.array_equal(streamed.score_stream(values, ts), expected)
    assert np.array_equal(detector.score(values, ts), expected)  # score moved nothing


def test_score_stream_continues_from_the_live_state() -> None:
    values, ts = _sine(200, seed=4, start=2_000)
    whole, halves = _fitted(), _fitted()
    expected = whole.score_stream(values, ts)
    parts = [halves.score_stream(values[:77], ts[:77]), halves.score_stream(values[77:], ts[77:])]
    assert np.array_equal(np.concatenate(parts), expected)
    assert (halves.live.value, halves.live.timestamp) == (float(values[-1]), float(ts[-1]))


def test_a_replayed_or_late_timestamp_is_scored_but_does_not_move_the_state() -> None:
    detector, twin, probe = _fitted(), _fitted(), _fitted()
    values, ts = _sine(6, seed=5, start=2_000)
    for v, t in zip(values[:3], ts[:3], strict=True):
        for model in (detector, twin, probe):
            model.score_one(float(v), float(t))
    state = (detector.live.value, detector.live.timestamp)
    replayed = detector.score_one(50.0, float(ts[1]))  # a retry of an old point, another value
    assert (detector.live.value, detector.live.timestamp) == state
    # scored against the live state: as the same point arriving on time would be
    assert replayed == probe.score_one(50.0, float(ts[2]) + 1.0)
    rest = [detector.score_one(float(v), float(t)) for v, t in zip(values[3:], ts[3:], strict=True)]
    assert rest == [
        twin.score_one(float(v), float(t)) for v, t in zip(values[3:], ts[3:], strict=True)
    ]
    # score applies the same rule: the late point is measured from the last on-time one
    mixed_v = np.array([values[0], 50.0, values[1]])
    mixed_t = np.array([ts[0], ts[0] - 1.0, ts[1]])
    fresh = _fitted()
    expected = [fresh.score_one(float(v), float(t)) for v, t in zip(mixed_v, mixed_t, strict=True)]
    assert _fitted().score(mixed_v, mixed_t).tolist() == expected


def test_a_spike_and_a_level_jump_are_flagged_normal_points_mostly_not() -> None:
    detector = _fitted()
    values, ts = _sine(2_000, seed=6, start=2_000)
    normal = detector.predict(values, ts)
    assert normal.mean() < 0.02
    spiked = values.copy()
    spiked[500] += 8.0  # a spike inside the range of levels: its change gives it away
    assert detector.predict(spiked, ts)[500]
    jumped = values.copy()
    jumped[1_000:] += 5.0
    flags = detector.predict(jumped, ts)
    assert flags[1_000]
    assert flags[1_001:1_050].mean() < 0.5  # after the jump the change is ordinary again


def test_calibration_is_the_default_and_threshold_fixes_it() -> None:
    calibrated = _fitted()
    assert calibrated.params()["target_false_alarm_rate"] == DEFAULT_RATE
    assert 0.0 < calibrated.threshold < 1.0
    fixed = _fitted(threshold=0.7)
    assert fixed.threshold == 0.7 and "target_false_alarm_rate" not in fixed.params()
    assert _fitted(threshold=0.7, target_false_alarm_rate=0.01).target_false_alarm_rate == 0.01
    cls = detector_class("isolation_forest")
    hyper = {k: v for k, v in fixed.params().items() if k in cls.hyperparameter_names}
    assert cls.fit(*_sine(2_000, 1), hyper) == fixed  # a retraining keeps a fixed threshold


def test_a_tiny_window_still_fits() -> None:
    for n in (1, 2, 3):
        detector = IsolationForestDetector.fit(np.arange(float(n)), np.arange(float(n)), {})
        detector.check()
        scores = detector.score(np.array([0.5, 100.0]), np.array([10.0, 11.0]))
        assert np.isfinite(scores).all() and (scores > 0).all() and (scores <= 1).all()


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("n_trees", 0),
        ("n_trees", 501),
        ("n_trees", 2.5),
        ("n_trees", True),
        ("n_trees", "50"),
        ("sample_size", 1),
        ("sample_size", 4097),
        ("sample_size", float("nan")),
        ("random_state", -1),
        ("random_state", 2**63),
        ("random_state", None),
        ("threshold", 0.0),
        ("threshold", 1.0),
        ("threshold", float("inf")),
        ("threshold", "0.6"),
        ("target_false_alarm_rate", 0.5),
    ],
)
def test_bad_hyperparameters_are_invalid_input(name: str, raw: object) -> None:
    for attempt in (
        lambda: IsolationForestDetector.check_hyperparameters({name: raw}),
        lambda: IsolationForestDetector.fit(np.arange(5.0), np.arange(5.0), {name: raw}),
    ):
        with pytest.raises(InvalidInput) as caught:
            attempt()
        assert (caught.value.rule, caught.value.loc) == ("hyperparameter_range", (*HYPER_LOC, name))


def test_unknown_hyperparameter_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        IsolationForestDetector.check_hyperparameters({"threshold_sigma": 3.0})
    assert caught.value.rule == "unknown_hyperparameter"


def test_whole_number_floats_are_accepted() -> None:
    detector = _fitted(n_trees=3.0, sample_size=64.0)
    assert detector.params()["n_trees"] == 3 and detector.sample_size == 64


def _corrupt(params: dict[str, Any], tree_end: int) -> list[dict[str, Any]]:
    """Copies of ``params`` each broken in one way that ``check`` must see."""
    inner = params["feature"].index(1) if 1 in params["feature"] else params["feature"].index(0)
    leaf = params["feature"].index(-1)

    def edit(**changes: Any) -> dict[str, Any]:
        copy = json.loads(json.dumps(params))
        for key, change in changes.items():
            copy[key] = change(copy[key])
        return copy

    def at(index: int, value: Any) -> Any:
        return lambda xs: [value if i == index else x for i, x in enumerate(xs)]

    return [
        edit(split=lambda xs: xs[:-1]),  # lengths differ
        edit(child=at(inner, 1)),  # the right child is the left one
        edit(child=at(inner, 10**6)),  # the right child beyond the tree
        edit(child=at(inner, -3)),  # backwards: would loop
        edit(feature=at(inner, 2)),  # no feature 2
        edit(feature=at(leaf, 0)),  # a leaf turned split: the tree no longer closes
        edit(child=at(leaf, 10**5)),  # a leaf bigger than the sample
        edit(child=lambda xs: [x + 1 if i == leaf else x for i, x in enumerate(xs)]),  # sum
        edit(roots=lambda xs: [1, *xs[1:]]),  # the first tree not at node 0
        edit(roots=lambda xs: [0, tree_end - 1, *xs[2:]]),  # a tree boundary inside a tree
        edit(split=at(inner, float("inf"))),
        edit(tree_samples=lambda _: 0),
        edit(threshold=lambda _: -1.0),
        edit(last_value=lambda _: float("nan")),
        edit(target_false_alarm_rate=lambda _: 0.9),
        edit(tree_samples=lambda psi: psi // 2),  # sizes and depth no longer fit the sample
        _chain(params),  # a whole tree of 128 points, but 127 deep: slow to walk
    ]


def _chain(params: dict[str, Any]) -> dict[str, Any]:
    """One tree that peels one point off at each of 127 splits (a valid tree, too deep)."""
    psi = params["tree_samples"]
    feature, split, child = [], [], []
    for depth in range(psi - 1):
        feature += [0, -1]
        split += [float(depth), 0.0]
        child += [2, 1]
    feature.append(-1)
    split.append(0.0)
    child.append(1)
    return {
        **params,
        "n_trees": 1,
        "roots": [0],
        "feature": feature,
        "split": split,
        "child": child,
    }


def test_check_rejects_corrupt_params() -> None:
    detector = _fitted(n_trees=3)
    params = detector.params()
    tree_end = params["roots"][1]
    for broken in _corrupt(params, tree_end):
        copy = IsolationForestDetector.from_params(broken)
        with pytest.raises(ValueError):
            copy.check()
    for broken_array in ({"feature": [300]}, {"child": [2**40]}):
        with pytest.raises(ValueError):
            IsolationForestDetector.from_params({**params, **broken_array})
    with pytest.raises(ValueError):
        IsolationForestDetector.from_params({**params, "n_trees": 4})
    with pytest.raises(TypeError):
        IsolationForestDetector.from_params({**params, "tree_samples": 1.5})
    with pytest.raises(TypeError):
        IsolationForestDetector.from_params({**params, "split": ["x"]})


def test_the_model_arrays_are_compact() -> None:
    detector = _fitted(n_trees=2)
    assert isinstance(detector.feature, array) and detector.feature.typecode == "b"
    assert detector.split.typecode == "d" and detector.child.typecode == "i"
