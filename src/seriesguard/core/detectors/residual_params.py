"""Hyperparameters of the residual detector: defaults, validation, and the check of imported
parameters.

The defaults were chosen on the NAB corpus (``seriesguard evaluate``; docs/detection-quality.md
gives the figures and how flat the optimum is): the level follows the data closely (half of
each residual), the hour offsets slowly, the scale very slowly (a few hundred points to
forget a noisy stretch); the rearm window of 400 points is about a day and a half at 5-minute
sampling.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from seriesguard.core.detectors.base import positive_float
from seriesguard.core.detectors.calibration import TARGET_RATE, valid_rate
from seriesguard.core.detectors.seasonal import BUCKETS, PERIODS, read_period
from seriesguard.core.errors import InvalidInput

DEFAULTS: dict[str, Any] = {
    "level_smoothing": 0.5,
    "seasonal_smoothing": 0.1,
    "scale_smoothing": 0.001,
    "rearm_points": 400,
    "period": "auto",
    TARGET_RATE: 0.01,
    "threshold_margin": 1.9,
}
SMOOTHINGS = ("level_smoothing", "seasonal_smoothing", "scale_smoothing")
MAX_REARM_POINTS = 100_000  # the peaks list holds at most this many entries per series
_LOC = ("body", "config", "hyperparameters")


def read_hyperparameters(hyperparameters: Mapping[str, Any]) -> dict[str, Any]:
    """The validated hyperparameters with defaults filled in; InvalidInput names the bad one."""
    chosen = {**DEFAULTS, **{k: v for k, v in hyperparameters.items() if v is not None}}
    for name in SMOOTHINGS:
        chosen[name] = _weight(chosen[name], name=name)
    chosen["rearm_points"] = _rearm(chosen["rearm_points"])
    chosen["period"] = read_period(chosen)
    rate = chosen[TARGET_RATE]
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not valid_rate(rate):
        raise InvalidInput(
            f"{TARGET_RATE} must be a number with 0 < r < 0.5, got {rate!r}",
            rule="hyperparameter_range",
            loc=(*_LOC, TARGET_RATE),
        )
    chosen[TARGET_RATE] = float(rate)
    chosen["threshold_margin"] = positive_float(chosen, "threshold_margin", 1.0)
    return chosen


def _weight(raw: object, *, name: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 < raw <= 1:
        raise InvalidInput(
            f"{name} must be a number with 0 < w <= 1, got {raw!r}",
            rule="hyperparameter_range",
            loc=(*_LOC, name),
        )
    return float(raw)


def _rearm(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= MAX_REARM_POINTS:
        raise InvalidInput(
            f"rearm_points must be an integer with 0 <= n <= {MAX_REARM_POINTS}, got {raw!r}",
            rule="hyperparameter_range",
            loc=(*_LOC, "rearm_points"),
        )
    return raw


def check_params(params: Mapping[str, Any]) -> None:
    """ValueError when imported parameters cannot serve."""
    seasonal = params["seasonal"]
    if len(seasonal) not in (1, *BUCKETS.values()):
        raise ValueError(f"seasonal must hold 1, 24 or 168 numbers, got {len(seasonal)}")
    finite = [params["level"], params["scale"], params["scale_floor"], *seasonal]
    if not all(math.isfinite(x) for x in finite):
        raise ValueError("level, scale, scale_floor and seasonal must be finite numbers")
    if not params["scale_floor"] > 0 or not params["scale"] >= params["scale_floor"]:
        raise ValueError("scale_floor must be > 0 and scale >= scale_floor")
    if not params["threshold"] > 0:
        raise ValueError(f"threshold must be > 0, got {params['threshold']}")
    for name in SMOOTHINGS:
        if not 0 < params[name] <= 1:
            raise ValueError(f"{name} must be in (0, 1], got {params[name]}")
    if not 0 <= params["rearm_points"] <= MAX_REARM_POINTS:
        raise ValueError(f"rearm_points out of range: {params['rearm_points']}")
    if params["period"] not in PERIODS:
        raise ValueError(f"period must be one of {PERIODS}, got {params['period']!r}")
    if any(not (offset <= 0 and peak >= 0) for offset, peak in params["peaks"]):
        raise ValueError("peaks must be [offset <= 0, residual >= 0] pairs")
