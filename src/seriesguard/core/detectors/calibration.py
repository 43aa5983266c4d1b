"""Threshold calibration: a false-alarm rate instead of a number of sigmas.

Every detector takes the optional hyperparameter ``target_false_alarm_rate`` (0 < r < 0.5).
Given, the threshold becomes the (1 - r) quantile of the detector's own scores on its training
window, so that about a fraction r of points like the training ones is flagged: operators
think in alarms per day, not in sigmas, and a heavy-tailed sensor needs a very different sigma
than a Gaussian one for the same alarm budget. The rate is kept in the fitted parameters, so a
retraining (which reuses them as hyperparameters) recalibrates instead of freezing the old
threshold.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from seriesguard.core.detectors.base import FloatArray
from seriesguard.core.errors import InvalidInput

TARGET_RATE = "target_false_alarm_rate"
MAX_RATE = 0.5  # above it "anomaly" means the majority: no longer a false-alarm budget
# A threshold of 0 would flag every point off the centre: a window whose scores are mostly 0
# (a sensor stuck on one value) gets this floor instead.
MIN_THRESHOLD = 1e-9


def target_rate(hyperparameters: Mapping[str, Any]) -> float | None:
    """The validated ``target_false_alarm_rate``, None when not given (absent or null)."""
    raw = hyperparameters.get(TARGET_RATE)
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not valid_rate(raw):
        raise InvalidInput(
            f"{TARGET_RATE} must be a number with 0 < r < {MAX_RATE}, got {raw!r}",
            rule="hyperparameter_range",
            loc=("body", "config", "hyperparameters", TARGET_RATE),
        )
    return float(raw)


def valid_rate(rate: float | None) -> bool:
    """True for None (not calibrated) and for a usable rate."""
    if rate is None:
        return True
    try:
        return math.isfinite(rate) and 0.0 < rate < MAX_RATE
    except OverflowError:  # an int beyond float64
        return False


def calibrated_threshold(scores: FloatArray, *, rate: float) -> float:
    """The (1 - rate) quantile of the training scores: the score above which about a fraction
    ``rate`` of the training points lies."""
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return MIN_THRESHOLD
    quantile = float(np.quantile(finite, 1.0 - rate))
    return max(quantile, MIN_THRESHOLD)


def check_rate(rate: float | None) -> None:
    """The ``check`` of imported parameters: ValueError on an unusable rate."""
    if not valid_rate(rate):
        raise ValueError(f"{TARGET_RATE} must be None or 0 < r < {MAX_RATE}, got {rate}")
