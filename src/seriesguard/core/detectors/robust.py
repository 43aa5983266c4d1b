"""Robust global detector: median and MAD instead of mean and standard deviation.

score = |x - median| / (1.4826 * MAD). The mean and standard deviation of a training window
that already holds anomalies are dragged by them (a 1 % of spikes at 50 sigma triples the
std), so the z-score learns to miss the very anomalies it was trained on; the median and the
MAD ignore up to half of the window being outliers. 1.4826 makes the MAD estimate the standard
deviation of Gaussian data, so a robust score reads in sigmas like a z-score.
"""

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

# Iglewicz and Hoaglin's cut-off for the modified z-score: about 1 false alarm in 2,000 on
# Gaussian data, a little above the z-score's 3.0 because the MAD estimate of sigma is noisier
# than the standard deviation on the same window.
DEFAULT_THRESHOLD_SIGMA = 3.5
MAD_TO_SIGMA = 1.4826  # 1 / Phi^-1(3/4)
MEAN_AD_TO_SIGMA = 1.253314  # sqrt(pi / 2): mean absolute deviation -> sigma (Gaussian)
# Below this fraction of the mean-absolute-deviation scale the MAD is taken as degenerate (more
# than half the window on one value, or a subnormal MAD that would overflow the scores).
MAD_FLOOR = 1e-6


def robust_scale(deviations: FloatArray) -> float:
    """Sigma estimated from absolute deviations around a centre: 1.4826 * MAD, or, when more
    than half the points sit on the centre (MAD ~ 0), 1.2533 * the mean absolute deviation,
    the usual fall-back, which is > 0 for any window that is not constant. 0.0 only for a
    constant window."""
    if deviations.size == 0:
        return 0.0
    mad_scale = MAD_TO_SIGMA * float(np.median(deviations))
    mean_scale = MEAN_AD_TO_SIGMA * float(np.mean(deviations))
    if mad_scale > MAD_FLOOR * mean_scale:
        return mad_scale
    return mean_scale


@dataclass(frozen=True, slots=True)
class RobustDetector(Detector):
    median: float
    scale: float
    threshold_sigma: float = DEFAULT_THRESHOLD_SIGMA
    target_false_alarm_rate: float | None = None

    algorithm = "robust"
    hyperparameter_names = frozenset({"threshold_sigma", TARGET_RATE})

    @classmethod
    def fit(
        cls, values: FloatArray, timestamps: FloatArray, hyperparameters: Mapping[str, Any]
    ) -> Self:
        cls.check_hyperparameters(hyperparameters)
        sigma = positive_float(hyperparameters, "threshold_sigma", DEFAULT_THRESHOLD_SIGMA)
        rate = target_rate(hyperparameters)
        median = float(np.median(values))
        detector = cls(
            median=median, scale=robust_scale(np.abs(values - median)), threshold_sigma=sigma
        )
        if rate is None:
            return detector
        threshold = calibrated_threshold(detector.score(values, timestamps), rate=rate)
        return cls(
            median=median,
            scale=detector.scale,
            threshold_sigma=threshold,
            target_false_alarm_rate=rate,
        )

    @classmethod
    def check_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> None:
        # Named: slots=True makes a new class, which zero-argument super() does not know.
        super(RobustDetector, cls).check_hyperparameters(hyperparameters)
        positive_float(hyperparameters, "threshold_sigma", DEFAULT_THRESHOLD_SIGMA)
        target_rate(hyperparameters)

    def score(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        if self.scale <= 0:
            return np.zeros_like(values, dtype=np.float64)
        scores: FloatArray = np.abs(values - self.median) / self.scale
        return scores

    def score_one(self, value: float, timestamp: float) -> float:
        return abs(value - self.median) / self.scale if self.scale > 0 else 0.0

    def band(self, timestamps: FloatArray) -> tuple[FloatArray, FloatArray] | None:
        if not self.scale > 0:  # scores are all 0: nothing is ever flagged, no band to show
            return None
        centre = np.full(timestamps.shape, self.median, dtype=np.float64)
        return centre, np.full(timestamps.shape, self.threshold_sigma * self.scale)

    def check(self) -> None:
        if not self.scale > 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")
        if not self.threshold_sigma > 0:
            raise ValueError(f"threshold_sigma must be > 0, got {self.threshold_sigma}")
        check_rate(self.target_false_alarm_rate)

    @property
    def threshold(self) -> float:
        return self.threshold_sigma

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "median": self.median,
            "scale": self.scale,
            "threshold_sigma": self.threshold_sigma,
        }
        if self.target_false_alarm_rate is not None:
            params[TARGET_RATE] = self.target_false_alarm_rate
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        rate = params.get(TARGET_RATE)
        return cls(
            median=float(params["median"]),
            scale=float(params["scale"]),
            threshold_sigma=float(params.get("threshold_sigma", DEFAULT_THRESHOLD_SIGMA)),
            target_false_alarm_rate=None if rate is None else float(rate),
        )
