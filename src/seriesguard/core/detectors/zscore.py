"""The seed's model: global z-score, |x - mean| / std > threshold_sigma."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

from seriesguard.core.detectors.base import Detector, FloatArray, positive_float
from seriesguard.core.detectors.calibration import (
    TARGET_RATE,
    calibrated_threshold,
    check_rate,
    target_rate,
)

DEFAULT_THRESHOLD_SIGMA = 3.0


@dataclass(frozen=True, slots=True)
class ZScoreDetector(Detector):
    mean: float
    std: float
    threshold_sigma: float = DEFAULT_THRESHOLD_SIGMA
    # Set when the threshold was calibrated to a false-alarm rate (then threshold_sigma holds
    # the calibrated threshold).
    target_false_alarm_rate: float | None = None

    algorithm = "statistical"
    hyperparameter_names = frozenset({"threshold_sigma", TARGET_RATE})

    @classmethod
    def fit(
        cls, values: FloatArray, timestamps: FloatArray, hyperparameters: Mapping[str, Any]
    ) -> Self:
        cls.check_hyperparameters(hyperparameters)
        sigma = positive_float(hyperparameters, "threshold_sigma", DEFAULT_THRESHOLD_SIGMA)
        rate = target_rate(hyperparameters)
        detector = cls(
            mean=float(np.mean(values)), std=float(np.std(values)), threshold_sigma=sigma
        )
        if rate is None:
            return detector
        threshold = calibrated_threshold(detector.score(values, timestamps), rate=rate)
        return cls(
            mean=detector.mean,
            std=detector.std,
            threshold_sigma=threshold,
            target_false_alarm_rate=rate,
        )

    @classmethod
    def check_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> None:
        # Named: slots=True makes a new class, which zero-argument super() does not know.
        super(ZScoreDetector, cls).check_hyperparameters(hyperparameters)
        positive_float(hyperparameters, "threshold_sigma", DEFAULT_THRESHOLD_SIGMA)
        target_rate(hyperparameters)

    def score(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        if self.std <= 0:
            return np.zeros_like(values, dtype=np.float64)
        scores: FloatArray = np.abs(values - self.mean) / self.std
        return scores

    def score_one(self, value: float, timestamp: float) -> float:
        return abs(value - self.mean) / self.std if self.std > 0 else 0.0

    def band(self, timestamps: FloatArray) -> tuple[FloatArray, FloatArray] | None:
        if not self.std > 0:  # scores are all 0: nothing is ever flagged, no band to show
            return None
        centre = np.full(timestamps.shape, self.mean, dtype=np.float64)
        return centre, np.full(timestamps.shape, self.threshold_sigma * self.std)

    def check(self) -> None:
        if not self.std > 0:
            raise ValueError(f"std must be > 0, got {self.std}")
        if not self.threshold_sigma > 0:
            raise ValueError(f"threshold_sigma must be > 0, got {self.threshold_sigma}")
        check_rate(self.target_false_alarm_rate)

    @property
    def threshold(self) -> float:
        return self.threshold_sigma

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "mean": self.mean,
            "std": self.std,
            "threshold_sigma": self.threshold_sigma,
        }
        if self.target_false_alarm_rate is not None:
            params[TARGET_RATE] = self.target_false_alarm_rate
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        rate = params.get(TARGET_RATE)
        return cls(
            mean=float(params["mean"]),
            std=float(params["std"]),
            threshold_sigma=float(params.get("threshold_sigma", DEFAULT_THRESHOLD_SIGMA)),
            target_false_alarm_rate=None if rate is None else float(rate),
        )
