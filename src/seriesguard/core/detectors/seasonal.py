"""Seasonal detector: an hour-of-day (or hour-of-week) profile of robust centres and spreads.

A sensor that follows the plant's daily cycle swings far more over a day than it varies
around the cycle, so a global z-score must set its band wide enough for the whole swing and
misses a spike at 3 a.m. that would be normal at noon. This detector learns, per hour bucket,
the median of the training window and a MAD-based spread, and scores
|x - centre[b]| / spread[b], in sigmas like the other detectors.

Buckets are hours of epoch-seconds UTC timestamps: hour-of-day (24) or hour-of-week (168,
counted from the epoch, a Thursday: any fixed origin works, the same one scores and fits). A
thin bucket's spread is shrunk toward the pooled within-bucket spread (as if it held
PRIOR_POINTS more points of that spread), so one lucky quiet hour does not become hair-trigger;
an empty one (a gap in the window) takes the global median and the global spread.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from seriesguard.core.detectors.base import Detector, FloatArray, positive_float
from seriesguard.core.detectors.calibration import (
    TARGET_RATE,
    calibrated_threshold,
    check_rate,
    target_rate,
)
from seriesguard.core.detectors.robust import robust_scale
from seriesguard.core.errors import InvalidInput

DEFAULT_THRESHOLD_SIGMA = 3.5  # as the robust detector: the same MAD-based sigmas
HOUR = 3600.0
DAY, WEEK = 24 * HOUR, 168 * HOUR
PERIODS = ("auto", "daily", "weekly")
BUCKETS = {"daily": 24, "weekly": 168}
PRIOR_POINTS = 10.0  # weight of the pooled spread in a bucket's spread, in points
# "auto" picks a profile only when the window holds two whole periods of it (one period cannot
# tell a cycle from a one-off) and on average this many points per bucket.
AUTO_MIN_PERIODS = 2.0
AUTO_MIN_POINTS_PER_BUCKET = 4.0
# When every residual is 0 (the window is exactly its profile) the spread cannot be learnt:
# this fraction of the global spread keeps scores finite.
RESIDUAL_FLOOR = 1e-6
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class SeasonalDetector(Detector):
    # 1 bucket (flat: the window was too short for a profile), 24 or 168; array("d") keeps the
    # resident model at 8 bytes a number instead of a float object each.
    centres: array[float]
    spreads: array[float]
    threshold_sigma: float = DEFAULT_THRESHOLD_SIGMA
    period: str = "auto"  # as asked (kept so a retraining asks the same)
    target_false_alarm_rate: float | None = None

    algorithm = "seasonal"
    hyperparameter_names = frozenset({"threshold_sigma", "period", TARGET_RATE})

    @classmethod
    def fit(
        cls, values: FloatArray, timestamps: FloatArray, hyperparameters: Mapping[str, Any]
    ) -> Self:
        cls.check_hyperparameters(hyperparameters)
        sigma = positive_float(hyperparameters, "threshold_sigma", DEFAULT_THRESHOLD_SIGMA)
        rate = target_rate(hyperparameters)
        period = read_period(hyperparameters)
        n_buckets = buckets_for(period, timestamps)
        centres, spreads = hour_profile(values, bucket_of(timestamps, n_buckets), n_buckets)
        detector = cls(centres=centres, spreads=spreads, threshold_sigma=sigma, period=period)
        if rate is None:
            return detector
        threshold = calibrated_threshold(detector.score(values, timestamps), rate=rate)
        return cls(
            centres=centres,
            spreads=spreads,
            threshold_sigma=threshold,
            period=period,
            target_false_alarm_rate=rate,
        )

    @classmethod
    def check_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> None:
        # Named: slots=True makes a new class, which zero-argument super() does not know.
        super(SeasonalDetector, cls).check_hyperparameters(hyperparameters)
        positive_float(hyperparameters, "threshold_sigma", DEFAULT_THRESHOLD_SIGMA)
        target_rate(hyperparameters)
        read_period(hyperparameters)

    def score(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        n = len(self.centres)
        centres = np.frombuffer(self.centres, dtype=np.float64)
        spreads = np.frombuffer(self.spreads, dtype=np.float64)
        if n == 1:
            centre, spread = centres[0], spreads[0]
        else:
            index = bucket_of(timestamps, n)
            centre, spread = centres[index], spreads[index]
        with np.errstate(divide="ignore", invalid="ignore"):
            scores: FloatArray = np.abs(values - centre) / spread
        # A zero spread only comes from outside (check refuses it): score 0 like the z-score.
        return np.where(spread > 0, scores, 0.0)

    def score_one(self, value: float, timestamp: float) -> float:
        centres = self.centres
        n = len(centres)
        b = 0
        if n > 1:
            try:
                b = int((timestamp // 3600.0) % n)  # HOUR, spelt out: no global look-up
            except (ValueError, OverflowError):  # nan / inf timestamp: no hour to look up
                b = 0
        spread = self.spreads[b]
        return abs(value - centres[b]) / spread if spread > 0 else 0.0

    def band(self, timestamps: FloatArray) -> tuple[FloatArray, FloatArray] | None:
        spreads = np.frombuffer(self.spreads, dtype=np.float64)
        if not np.all(spreads > 0):  # a zero spread flags nothing (score 0): no band to draw
            return None
        index = bucket_of(timestamps, len(self.centres))  # the bucket score() uses
        centres = np.frombuffer(self.centres, dtype=np.float64)
        half_width: FloatArray = self.threshold_sigma * spreads[index]
        return centres[index], half_width

    def check(self) -> None:
        n = len(self.centres)
        if n not in (1, *BUCKETS.values()) or len(self.spreads) != n:
            raise ValueError(f"centres and spreads must both hold 1, 24 or 168 numbers, got {n}")
        if not all(math.isfinite(c) for c in self.centres):
            raise ValueError("centres must be finite numbers")
        if not all(math.isfinite(s) and s > 0 for s in self.spreads):
            raise ValueError("spreads must be finite numbers > 0")
        if not self.threshold_sigma > 0:
            raise ValueError(f"threshold_sigma must be > 0, got {self.threshold_sigma}")
        if self.period not in PERIODS:
            raise ValueError(f"period must be one of {PERIODS}, got {self.period!r}")
        check_rate(self.target_false_alarm_rate)

    @property
    def threshold(self) -> float:
        return self.threshold_sigma

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "centres": self.centres.tolist(),
            "spreads": self.spreads.tolist(),
            "threshold_sigma": self.threshold_sigma,
            "period": self.period,
        }
        if self.target_false_alarm_rate is not None:
            params[TARGET_RATE] = self.target_false_alarm_rate
        return params

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        rate = params.get(TARGET_RATE)
        period = params.get("period", "auto")
        if not isinstance(period, str):
            raise TypeError(f"period must be a string, got {period!r}")
        return cls(
            centres=array("d", (float(c) for c in params["centres"])),
            spreads=array("d", (float(s) for s in params["spreads"])),
            threshold_sigma=float(params.get("threshold_sigma", DEFAULT_THRESHOLD_SIGMA)),
            period=period,
            target_false_alarm_rate=None if rate is None else float(rate),
        )


def buckets_for(period: str, timestamps: FloatArray) -> int:
    """How many buckets the profile of this window gets: an asked period when the window
    covers one whole period of it; for "auto" the finest one it supports; 1 (flat) when
    none fits."""
    span = float(np.max(timestamps) - np.min(timestamps)) if timestamps.size else 0.0
    if period != "auto":
        return BUCKETS[period] if span >= BUCKETS[period] * HOUR else 1
    for name in ("weekly", "daily"):
        n = BUCKETS[name]
        long_enough = span >= AUTO_MIN_PERIODS * n * HOUR
        if long_enough and timestamps.size >= AUTO_MIN_POINTS_PER_BUCKET * n:
            return n
    return 1


def read_period(hyperparameters: Mapping[str, Any]) -> str:
    raw = hyperparameters.get("period", "auto")
    if not isinstance(raw, str) or raw not in PERIODS:
        raise InvalidInput(
            f"period must be one of {list(PERIODS)}, got {raw!r}",
            rule="hyperparameter_range",
            loc=("body", "config", "hyperparameters", "period"),
        )
    return raw


def bucket_of(timestamps: FloatArray, n: int) -> IntArray:
    """Bucket of each timestamp, the same float arithmetic as score_one (bit for bit)."""
    if n == 1:
        return np.zeros(timestamps.shape, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        hours = np.remainder(np.floor_divide(timestamps, HOUR), float(n))
    hours[~np.isfinite(hours)] = 0.0
    index: IntArray = hours.astype(np.int64)
    return index


def hour_profile(values: FloatArray, index: IntArray, n: int) -> tuple[array[float], array[float]]:
    """Per-bucket median and shrunk spread."""
    global_median = float(np.median(values))
    global_scale = robust_scale(np.abs(values - global_median))
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(n + 1))
    groups = [values[order[bounds[b] : bounds[b + 1]]] for b in range(n)]
    centres = [float(np.median(g)) if g.size else global_median for g in groups]
    residuals = np.abs(values - np.asarray(centres)[index])
    pooled = max(robust_scale(residuals), RESIDUAL_FLOOR * global_scale)
    spreads = [
        _shrunk(robust_scale(np.abs(g - c)), g.size, pooled) if g.size else global_scale
        for g, c in zip(groups, centres, strict=True)
    ]
    if n == 1:  # flat: exactly the robust detector's centre and scale
        spreads = [global_scale]
    return array("d", centres), array("d", spreads)


def _shrunk(scale: float, points: int, pooled: float) -> float:
    """A bucket's spread pulled toward the pooled one, as a variance-weighted mean."""
    variance = (points * scale * scale + PRIOR_POINTS * pooled * pooled) / (points + PRIOR_POINTS)
    return math.sqrt(variance)
