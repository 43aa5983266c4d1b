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

    @classmethod
    @abstractmethod
    def fit(
        cls, values: FloatArray, timestamps: FloatArray, hyperparameters: Mapping[str, Any]
    ) -> Self:
        """Learn from a validated training window."""

    @abstractmethod
    def score(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        """Raw anomaly score of each point; the point is anomalous above ``threshold``."""

    @abstractmethod
    def score_one(self, value: float, timestamp: float) -> float:
        """Score of one point without numpy overhead: the predictor's hot path."""

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
