"""Isolation forest (Liu, Ting & Zhou, 2008) on the value and its change from the previous point.

Random axis-parallel splits isolate a rare point in few steps: the anomaly score of a point is
2^(-E[h(x)] / c(psi)), h its path length in a tree grown on ``psi`` sampled training points
(plus c(leaf size) for the points a height-limited leaf still holds) and c(n) the average path
length of an unsuccessful search in a binary search tree of n points. The score is in (0, 1]:
about 0.5 and below for ordinary points, towards 1 for points isolated at the first splits.

Features: the value and ``x_t - x_{t-1}``, so a spike or a jump inside the usual range of
levels is caught by its change. That makes the detector stateful: the fitted state is the last
training point (``last_value``, ``last_timestamp``); the live state starts there and follows
the live points of ``score_one``/``score_stream``. A point not after the live state's timestamp
(a replay, an out-of-order point) is scored against it without moving it. ``score`` always
starts from the fitted state.

Threshold: calibrated by default (``target_false_alarm_rate``, 0.005 unless given), because an
isolation score has no unit to set a threshold in: the paper reads scores near 1 as anomalies
and well below 0.5 as normal, with no cut-off between whose false-alarm rate holds from one
series to the next, and sigmas do not apply. ``threshold`` fixes it instead; a given rate wins
over it, so a retraining with the fitted params recalibrates.

Model: the trees in preorder as three flat arrays over all nodes: ``feature`` (0 value,
1 change, -1 leaf), ``split`` (go left when x < split; 0.0 on leaves) and ``child`` (offset of
the right child on inner nodes, the left one being next; the number of training points on
leaves), plus ``roots`` (see ``isolation_trees``, which also says why splits are drawn over
a widened range). Each split is the shortest decimal that routes every training point as the
drawn split does, so the JSON stays short and the fit stays exact. With the defaults (50 trees
of 128 points) a forest is ~3,000 nodes: ~40 KB resident (13 bytes a node) and ~40 KB of JSON
params; at the largest settings (500 trees of 4,096) ~110,000 nodes and ~1.4 MB.
"""

from __future__ import annotations

import itertools
import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Self

import numpy as np

from seriesguard.core.detectors.base import Detector, FloatArray, positive_float
from seriesguard.core.detectors.calibration import (
    TARGET_RATE,
    calibrated_threshold,
    check_rate,
    target_rate,
)
from seriesguard.core.detectors.isolation_trees import (
    CHANGE,
    LEAF_COST,
    LEAF_COST_ARRAY,
    MAX_SAMPLE_SIZE,
    VALUE,
    Forest,
    check_tree,
    training_rows,
)
from seriesguard.core.errors import InvalidInput

DEFAULT_N_TREES = 50
DEFAULT_SAMPLE_SIZE = 128
DEFAULT_RATE = 0.005
MAX_TREES = 500  # the paper's path lengths converge by ~100 trees; beyond, only size grows
MAX_RANDOM_STATE = 2**63 - 1
HYPER_LOC = ("body", "config", "hyperparameters")


class _Live:
    """The previous live point: what the next point's change is measured from."""

    __slots__ = ("timestamp", "value")

    def __init__(self, value: float, timestamp: float) -> None:
        self.value = value
        self.timestamp = timestamp


@dataclass(frozen=True, slots=True)
class IsolationForestDetector(Detector):
    feature: array[int]  # "b"
    split: array[float]  # "d"
    child: array[int]  # "i"
    roots: array[int]  # "i"
    tree_samples: int  # psi: points each tree was grown on
    last_value: float
    last_timestamp: float
    score_threshold: float
    sample_size: int = DEFAULT_SAMPLE_SIZE  # as asked (kept so a retraining asks the same)
    random_state: int = 0
    target_false_alarm_rate: float | None = None
    live: _Live = field(init=False, compare=False, repr=False)

    algorithm = "isolation_forest"
    hyperparameter_names = frozenset(
        {"n_trees", "sample_size", "random_state", "threshold", TARGET_RATE}
    )
    stateful = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "live", _Live(self.last_value, self.last_timestamp))

    @classmethod
    def fit(
        cls, values: FloatArray, timestamps: FloatArray, hyperparameters: Mapping[str, Any]
    ) -> Self:
        cls.check_hyperparameters(hyperparameters)
        if values.size == 0:
            raise InvalidInput("no points to fit on", rule="min_points", loc=("body", "values"))
        n_trees = _integer(hyperparameters, "n_trees", DEFAULT_N_TREES, 1, MAX_TREES)
        sample_size = _integer(
            hyperparameters, "sample_size", DEFAULT_SAMPLE_SIZE, 2, MAX_SAMPLE_SIZE
        )
        seed = _integer(hyperparameters, "random_state", 0, 0, MAX_RANDOM_STATE)
        rate = target_rate(hyperparameters)
        fixed = _threshold(hyperparameters)
        if rate is None and fixed is None:
            rate = DEFAULT_RATE
        rows = training_rows(np.asarray(values, dtype=np.float64))
        psi = min(sample_size, rows.shape[0])
        forest = Forest(rows)
        rng = np.random.default_rng(seed)
        for _ in range(n_trees):
            forest.grow(rng.choice(rows.shape[0], size=psi, replace=False), rng)
        detector = cls(
            feature=array("b", forest.feature),
            split=array("d", forest.split),
            child=array("i", forest.child),
            roots=array("i", forest.roots),
            tree_samples=psi,
            last_value=float(values[-1]),
            last_timestamp=float(timestamps[-1]),
            score_threshold=1.0 if fixed is None else fixed,
            sample_size=sample_size,
            random_state=seed,
        )
        if rate is None:
            return detector
        in_sample = detector._scores(rows[:, VALUE], rows[:, CHANGE])
        threshold = calibrated_threshold(in_sample, rate=rate)
        return replace(detector, score_threshold=threshold, target_false_alarm_rate=rate)

    @classmethod
    def check_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> None:
        # Named: slots=True makes a new class, which zero-argument super() does not know.
        super(IsolationForestDetector, cls).check_hyperparameters(hyperparameters)
        _integer(hyperparameters, "n_trees", DEFAULT_N_TREES, 1, MAX_TREES)
        _integer(hyperparameters, "sample_size", DEFAULT_SAMPLE_SIZE, 2, MAX_SAMPLE_SIZE)
        _integer(hyperparameters, "random_state", 0, 0, MAX_RANDOM_STATE)
        target_rate(hyperparameters)
        _threshold(hyperparameters)

    def score(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        values = np.asarray(values, dtype=np.float64)
        changes, _ = _changes(values, timestamps, self.last_value, self.last_timestamp)
        return self._scores(values, changes)

    def score_stream(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        values = np.asarray(values, dtype=np.float64)
        live = self.live
        changes, end = _changes(values, timestamps, live.value, live.timestamp)
        live.value, live.timestamp = end
        return self._scores(values, changes)

    def score_one(self, value: float, timestamp: float) -> float:
        live = self.live
        change = value - live.value
        if timestamp > live.timestamp:
            live.value, live.timestamp = value, timestamp
        # The hot path: plain Python over the flat arrays (numpy per call costs more).
        feature, split, child, costs = self.feature, self.split, self.child, LEAF_COST
        total = 0.0
        for i in self.roots:
            depth = 0
            f = feature[i]
            while f >= 0:
                if (change if f else value) < split[i]:
                    i += 1
                else:
                    i += child[i]
                depth += 1
                f = feature[i]
            total += depth + costs[child[i]]
        return float(2.0 ** (-(total / len(self.roots)) / (costs[self.tree_samples] or 1.0)))

    def _scores(self, values: FloatArray, changes: FloatArray) -> FloatArray:
        """Vectorised score_one of (value, change) pairs: the same floats, the same order."""
        total = np.zeros(values.shape, dtype=np.float64)
        if values.size == 0:
            return total
        feature = np.frombuffer(self.feature, dtype=np.int8).astype(np.intp)
        split = np.frombuffer(self.split, dtype=np.float64)
        child = np.asarray(self.child, dtype=np.intp)
        columns = (values, changes)
        for root in self.roots:
            node = np.full(values.shape, root, dtype=np.intp)
            depth = np.zeros(values.shape, dtype=np.intp)
            while True:
                f = feature[node]
                inner = f >= 0
                if not inner.any():
                    break
                x = np.where(f == CHANGE, columns[CHANGE], columns[VALUE])
                step = np.where(x < split[node], 1, child[node])
                node = np.where(inner, node + step, node)
                depth += inner
            total += depth + LEAF_COST_ARRAY[child[node]]
        norm = LEAF_COST[self.tree_samples] or 1.0
        exponents = -(total / len(self.roots)) / norm
        # Python's pow, not np.power: its SIMD loops may differ from score_one in the last bit.
        return np.array([2.0**e for e in exponents.tolist()], dtype=np.float64)

    def check(self) -> None:
        n = len(self.feature)
        if len(self.split) != n or len(self.child) != n:
            raise ValueError(f"feature, split and child must have one entry a node, got {n}")
        if not 1 <= len(self.roots) <= MAX_TREES:
            raise ValueError(f"the forest must hold 1 to {MAX_TREES} trees")
        if not 1 <= self.tree_samples <= MAX_SAMPLE_SIZE:
            raise ValueError(f"tree_samples must be 1 to {MAX_SAMPLE_SIZE}")
        bounds = [*self.roots, n]
        if bounds[0] != 0:
            raise ValueError("the first tree must start at node 0")
        for start, stop in itertools.pairwise(bounds):
            check_tree(
                self.feature, self.split, self.child, start=start, stop=stop, psi=self.tree_samples
            )
        numbers = (self.last_value, self.last_timestamp, self.score_threshold)
        if not all(math.isfinite(x) for x in numbers) or not self.score_threshold > 0:
            raise ValueError(
                "last_value, last_timestamp and threshold must be finite, threshold > 0"
            )
        if not 2 <= self.sample_size <= MAX_SAMPLE_SIZE:
            raise ValueError(f"sample_size must be 2 to {MAX_SAMPLE_SIZE}")
        if not 0 <= self.random_state <= MAX_RANDOM_STATE:
            raise ValueError("random_state must be a non-negative 64-bit integer")
        check_rate(self.target_false_alarm_rate)

    @property
    def threshold(self) -> float:
        return self.score_threshold

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "n_trees": len(self.roots),
            "sample_size": self.sample_size,
            "random_state": self.random_state,
            "threshold": self.score_threshold,
            "tree_samples": self.tree_samples,
            "last_value": self.last_value,
            "last_timestamp": self.last_timestamp,
            "roots": self.roots.tolist(),
            "feature": self.feature.tolist(),
            "split": self.split.tolist(),
            "child": self.child.tolist(),
        }
        if self.target_false_alarm_rate is not None:
            params[TARGET_RATE] = self.target_false_alarm_rate
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        rate = params.get(TARGET_RATE)
        try:  # array() refuses an out-of-range integer with OverflowError: a bad value
            arrays = {
                "feature": array("b", params["feature"]),
                "split": array("d", params["split"]),
                "child": array("i", params["child"]),
                "roots": array("i", params["roots"]),
            }
        except OverflowError as exc:
            raise ValueError(f"a tree array holds an out-of-range number: {exc}") from None
        if len(arrays["roots"]) != params.get("n_trees", len(arrays["roots"])):
            raise ValueError("n_trees must be the number of roots")
        return cls(
            **arrays,
            tree_samples=_exact_int(params["tree_samples"]),
            last_value=float(params["last_value"]),
            last_timestamp=float(params["last_timestamp"]),
            score_threshold=float(params["threshold"]),
            sample_size=_exact_int(params.get("sample_size", DEFAULT_SAMPLE_SIZE)),
            random_state=_exact_int(params.get("random_state", 0)),
            target_false_alarm_rate=None if rate is None else float(rate),
        )


def _exact_int(raw: object) -> int:
    """An int, or a float holding one (JSON readers may give 128.0); TypeError otherwise."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, float) and raw.is_integer():
        return int(raw)
    raise TypeError(f"expected an integer, got {raw!r}")


def _integer(
    hyperparameters: Mapping[str, Any], name: str, default: int, low: int, high: int
) -> int:
    raw = hyperparameters.get(name, default)
    ok = not isinstance(raw, bool) and isinstance(raw, int | float)
    if ok and isinstance(raw, float):
        ok = raw.is_integer()
    if not ok or not low <= raw <= high:
        raise InvalidInput(
            f"{name} must be an integer from {low} to {high}, got {raw!r}",
            rule="hyperparameter_range",
            loc=(*HYPER_LOC, name),
        )
    return int(raw)


def _threshold(hyperparameters: Mapping[str, Any]) -> float | None:
    """The fixed ``threshold`` (0 < t < 1: scores are in (0, 1]); None when not given."""
    if hyperparameters.get("threshold") is None:
        return None
    fixed = positive_float(hyperparameters, "threshold", 0.5)
    if fixed >= 1.0:
        raise InvalidInput(
            f"threshold must be below 1 (the highest score), got {fixed!r}",
            rule="hyperparameter_range",
            loc=(*HYPER_LOC, "threshold"),
        )
    return fixed


def _changes(
    values: FloatArray, timestamps: FloatArray, value: float, timestamp: float
) -> tuple[FloatArray, tuple[float, float]]:
    """Change of each point from the live state as score_one would see it, starting from
    (value, timestamp); and the state after the last point. A point moves the state only
    when its timestamp is after every timestamp before it (and the start's)."""
    n = values.size
    if n == 0:
        return np.zeros(0, dtype=np.float64), (value, timestamp)
    times = np.asarray(timestamps, dtype=np.float64)
    before = np.concatenate(([timestamp], times[:-1]))
    with np.errstate(invalid="ignore"):
        moves = times > np.fmax.accumulate(before)
    latest = np.maximum.accumulate(np.where(moves, np.arange(n), -1))
    previous_index = np.concatenate(([-1], latest[:-1]))
    previous = np.where(previous_index >= 0, values[previous_index], value)
    with np.errstate(over="ignore", invalid="ignore"):
        changes: FloatArray = values - previous
    last = int(latest[-1])
    end = (float(values[last]), float(times[last])) if last >= 0 else (value, timestamp)
    return changes, end
