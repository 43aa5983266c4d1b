"""The Detector interface every algorithm implements.

A detector is fitted on a training window, scores points (higher = more anomalous), flags the
points whose score exceeds its threshold, and round-trips through bytes so the same model is
served by the predictor, stored in the registry and loaded as an MLflow pyfunc.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from seriesguard.core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
FORMAT_VERSION = 1


class Detector(ABC):
    """One fitted anomaly model of one series."""

    __slots__ = ()  # subclasses may use slots: 285,000 of them stay resident
    algorithm: ClassVar[str]
    hyperparameter_names: ClassVar[frozenset[str]] = frozenset()
    # A stateful detector scores a point against what it has seen of the live stream (an
    # exponentially weighted baseline, the previous value): ``score_one`` and ``score_stream``
    # advance that live state, ``score`` never does. Stateless ones score each point alone.
    stateful: ClassVar[bool] = False

    @classmethod
    @abstractmethod
    def fit(
        cls, values: FloatArray, timestamps: FloatArray, hyperparameters: Mapping[str, Any]
    ) -> Self:
        """Learn from a validated training window."""

    @abstractmethod
    def score(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        """Raw anomaly score of each point; the point is anomalous above ``threshold``.

        Pure: a stateful detector scores the points as the continuation of its training window
        (from its fitted state), whatever live traffic it has seen, and changes nothing."""

    @abstractmethod
    def score_one(self, value: float, timestamp: float) -> float:
        """Score of one live point without numpy overhead: the predictor's hot path. A
        stateful detector advances its live state with the point."""

    def training_scores(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        """Scores of the training window as the model saw it while fitting: what its
        anomaly-rate baseline and its training plot count. A stateful detector replays the
        window from the state before it (``score`` would judge it from the state after it);
        a stateless one scores it with ``score``."""
        return self.score(values, timestamps)

    def score_stream(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        """Scores of live points in time order, as ``score_one`` one after the other would
        give them: a batch predict. Stateless detectors score them with ``score``."""
        return self.score(values, timestamps)

    @property
    @abstractmethod
    def threshold(self) -> float:
        """Score above which a point is flagged."""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """Compact, JSON-serialisable parameters that rebuild this detector."""

    @classmethod
    @abstractmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`params`."""

    def check(self) -> None:  # noqa: B027 - optional hook
        """Raise ValueError when parameters given from outside (an import) cannot serve."""

    def normalized(self, raw: float) -> float:
        """The raw score on the [0, 1] scale shared by every detector (see normalized_score)."""
        return normalized_score(raw, self.threshold)

    def band(self, timestamps: FloatArray) -> tuple[FloatArray, FloatArray] | None:
        """``(centre, half_width)`` at each timestamp: the value the model expects and how far
        from it a point may go before it is flagged, for plots. None when the detector's rule
        is no distance from an expected value (or flags nothing)."""
        return None

    def predict(self, values: FloatArray, timestamps: FloatArray) -> BoolArray:
        return self.score(values, timestamps) > self.threshold

    def to_bytes(self) -> bytes:
        document = {"format": FORMAT_VERSION, "algorithm": self.algorithm, "params": self.params()}
        return json.dumps(document, sort_keys=True).encode()

    @classmethod
    def check_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> None:
        """Reject unknown names (and, in subclasses, out-of-range values) before a job exists."""
        unknown = sorted(set(hyperparameters) - cls.hyperparameter_names)
        if unknown:
            raise InvalidInput(
                f"algorithm {cls.algorithm!r} has no hyperparameter {unknown[0]!r}; "
                f"known: {sorted(cls.hyperparameter_names)}",
                rule="unknown_hyperparameter",
                loc=("body", "config", "hyperparameters", unknown[0]),
            )


def normalized_score(raw: float, threshold: float) -> float:
    """``raw / (raw + threshold)``: 0 for a point the model expects exactly, 0.5 at the
    detector's threshold, towards 1 as the point goes further out, whatever the algorithm or the
    series' scale. So a normalised score means the same on every series: above 0.5 the point is
    flagged, and 0.75 is three times its threshold's distance, on a z-score and a forest alike."""
    if not raw > 0.0:  # negative, zero or NaN
        return 0.0
    if raw == math.inf:
        return 1.0
    return raw / (raw + threshold) if threshold > 0.0 else 1.0


def normalized_scores(scores: FloatArray, threshold: float | FloatArray) -> FloatArray:
    """:func:`normalized_score` of every element; ``threshold`` is one number or one per
    score (a batch answered by several versions)."""
    raw = np.maximum(scores, 0.0)  # this argument order turns -0.0 into 0.0
    thresholds = np.broadcast_to(np.asarray(threshold, dtype=np.float64), raw.shape)
    with np.errstate(all="ignore"):
        normalized: FloatArray = raw / (raw + thresholds)
    # One pass for the common case; NaN or infinite scores and thresholds <= 0 (neither comes
    # from a checked model) are the only inputs the plain ratio gets wrong.
    if raw.size and not (thresholds.min() > 0.0 and np.isfinite(normalized).all()):
        return _normalized_edges(scores, thresholds)
    return normalized


def _normalized_edges(scores: FloatArray, thresholds: FloatArray) -> FloatArray:
    raw = np.where(np.isnan(scores), 0.0, np.maximum(scores, 0.0))
    with np.errstate(over="ignore", invalid="ignore"):
        total = raw + thresholds
        # An infinite score, or a sum past float range, is as far out as a point gets: 1.
        ratio = np.where(np.isfinite(total), raw / total, 1.0)
    normalized: FloatArray = np.where(raw > 0.0, np.where(thresholds > 0.0, ratio, 1.0), 0.0)
    return normalized


def positive_float(hyperparameters: Mapping[str, Any], name: str, default: float) -> float:
    raw = hyperparameters.get(name, default)
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not _finite(raw) or raw <= 0:
        raise InvalidInput(
            f"{name} must be a positive finite number, got {raw!r}",
            rule="hyperparameter_range",
            loc=("body", "config", "hyperparameters", name),
        )
    return float(raw)


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)  # an int beyond float64 overflows: not a usable number
    except OverflowError:
        return False
