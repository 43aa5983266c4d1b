"""Residual detector: the distance of each point from a forecast that follows the series.

A fixed model (z-score, robust, seasonal) learns one picture of normal from the training window
and keeps it until the next retraining, so a sensor whose level drifts or steps alarms for days
on its new, normal level, and a spike on a quiet stretch hides inside the band a noisy week set.
This detector forecasts each point from what came just before (see residual_state: an
exponentially weighted level, an hour-bucket seasonal offset, a running scale) and scores the
residual in scales, gated so that one excursion raises one alarm.

It is stateful: the predictor keeps the little state each series needs (a level, a scale, 1, 24
or 168 offsets, a few recent peaks) and advances it with every point it serves. The fitted
model holds the state at the end of the training window, so a restarted predictor resumes
from there and catches up within a few points (the level follows at ``level_smoothing`` a
point).

The threshold is calibrated from the training window: ``threshold_margin`` times the
(1 - ``target_false_alarm_rate``) quantile of its residuals, because residual scales differ by
sensor (heavy tails, quantised values) far more than z-scores do.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np

from seriesguard.core.detectors.base import Detector, FloatArray
from seriesguard.core.detectors.calibration import (
    TARGET_RATE,
    calibrated_threshold,
    check_rate,
)
from seriesguard.core.detectors.residual_params import (
    DEFAULTS,
    check_params,
    read_hyperparameters,
)
from seriesguard.core.detectors.residual_state import ResidualState, Smoothing
from seriesguard.core.detectors.robust import robust_scale
from seriesguard.core.detectors.seasonal import bucket_of, buckets_for, hour_profile

# The scale never falls below this fraction of the training window's spread: a stretch of
# identical values must not make the next ordinary wiggle look like a thousand sigmas.
SCALE_FLOOR = 1e-3
# The fitted model keeps at most this many of the recent peaks (the largest first): the
# serialised model stays a few kB whatever the window; the live state keeps them all.
PEAKS_KEPT = 64


@dataclass(frozen=True, slots=True, eq=False)
class ResidualDetector(Detector):
    smoothing: Smoothing
    fitted: ResidualState  # the state at the end of the training window: never mutated
    threshold_value: float
    period: str = DEFAULTS["period"]
    target_false_alarm_rate: float = DEFAULTS[TARGET_RATE]
    threshold_margin: float = DEFAULTS["threshold_margin"]
    live: ResidualState = field(init=False, repr=False)  # what the predictor advances

    algorithm = "residual"
    stateful = True
    hyperparameter_names = frozenset(DEFAULTS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "live", self.fitted.copy())

    def __eq__(self, other: object) -> bool:
        """Same fitted model (the live state is not part of the model)."""
        return isinstance(other, ResidualDetector) and self.params() == other.params()

    def __hash__(self) -> int:
        return hash((self.algorithm, self.threshold_value))

    @classmethod
    def fit(
        cls, values: FloatArray, timestamps: FloatArray, hyperparameters: Mapping[str, Any]
    ) -> Self:
        cls.check_hyperparameters(hyperparameters)
        chosen = read_hyperparameters(hyperparameters)
        state = initial_state(values, timestamps, period=chosen["period"])
        smoothing = Smoothing(
            level=chosen["level_smoothing"],
            seasonal=chosen["seasonal_smoothing"],
            scale=chosen["scale_smoothing"],
            rearm_points=chosen["rearm_points"],
        )
        raw = np.fromiter(
            (
                state.step(v, t, smoothing)[1]
                for v, t in zip(values.tolist(), timestamps.tolist(), strict=True)
            ),
            dtype=np.float64,
            count=values.size,
        )
        quantile = calibrated_threshold(raw, rate=chosen[TARGET_RATE])
        state.trim_peaks(PEAKS_KEPT)
        return cls(
            smoothing=smoothing,
            fitted=state,
            threshold_value=chosen["threshold_margin"] * quantile,
            period=chosen["period"],
            target_false_alarm_rate=chosen[TARGET_RATE],
            threshold_margin=chosen["threshold_margin"],
        )

    @classmethod
    def check_hyperparameters(cls, hyperparameters: Mapping[str, Any]) -> None:
        super(ResidualDetector, cls).check_hyperparameters(hyperparameters)
        read_hyperparameters(hyperparameters)

    def score(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        return _run(self.fitted.copy(), self.smoothing, values, timestamps)

    def training_scores(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        state = initial_state(values, timestamps, period=self.period)
        return _run(state, self.smoothing, values, timestamps)

    def score_stream(self, values: FloatArray, timestamps: FloatArray) -> FloatArray:
        return _run(self.live, self.smoothing, values, timestamps)

    def score_one(self, value: float, timestamp: float) -> float:
        return self.live.step(value, timestamp, self.smoothing)[0]

    def band(self, timestamps: FloatArray) -> tuple[FloatArray, FloatArray] | None:
        """The forecast of the fitted state (level plus each timestamp's hour offset) and the
        residual that reaches the threshold: where the model stood at the end of training."""
        state = self.fitted
        offsets = np.frombuffer(state.seasonal, dtype=np.float64)
        centre: FloatArray = state.level + offsets[bucket_of(timestamps, len(offsets))]
        return centre, np.full(timestamps.shape, self.threshold_value * state.scale)

    def reset(self) -> None:
        """Forget the live stream: back to the state at the end of training."""
        object.__setattr__(self, "live", self.fitted.copy())

    @property
    def threshold(self) -> float:
        return self.threshold_value

    def check(self) -> None:
        check_params(self.params())
        check_rate(self.target_false_alarm_rate)

    def params(self) -> dict[str, Any]:
        state = self.fitted
        return {
            "level": state.level,
            "seasonal": state.seasonal.tolist(),
            "scale": state.scale,
            "scale_floor": state.scale_floor,
            "last_timestamp": state.last_timestamp,
            "peaks": [[index - state.seen, peak] for index, peak in state.peaks],
            "threshold": self.threshold_value,
            "level_smoothing": self.smoothing.level,
            "seasonal_smoothing": self.smoothing.seasonal,
            "scale_smoothing": self.smoothing.scale,
            "rearm_points": self.smoothing.rearm_points,
            "period": self.period,
            TARGET_RATE: self.target_false_alarm_rate,
            "threshold_margin": self.threshold_margin,
        }

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Self:
        peaks = [(int(i), float(p)) for i, p in params.get("peaks", [])]
        state = ResidualState(
            level=float(params["level"]),
            seasonal=array("d", (float(s) for s in params["seasonal"])),
            scale=float(params["scale"]),
            scale_floor=float(params["scale_floor"]),
            seen=0,
            last_timestamp=float(params["last_timestamp"]),
            peaks=peaks,
        )
        return cls(
            smoothing=Smoothing(
                level=float(params["level_smoothing"]),
                seasonal=float(params["seasonal_smoothing"]),
                scale=float(params["scale_smoothing"]),
                rearm_points=int(params["rearm_points"]),
            ),
            fitted=state,
            threshold_value=float(params["threshold"]),
            period=str(params.get("period", DEFAULTS["period"])),
            target_false_alarm_rate=float(params.get(TARGET_RATE, DEFAULTS[TARGET_RATE])),
            threshold_margin=float(params.get("threshold_margin", DEFAULTS["threshold_margin"])),
        )


def initial_state(values: FloatArray, timestamps: FloatArray, *, period: str) -> ResidualState:
    """The state before the training window: its seasonal profile (offsets around their
    median), the level of the deseasonalised window, and the mean step between points as the
    first scale."""
    n = buckets_for(period, timestamps)
    index = bucket_of(timestamps, n)
    centres = np.frombuffer(hour_profile(values, index, n)[0], dtype=np.float64)
    offsets = centres - np.median(centres) if n > 1 else np.zeros(1)
    level = float(np.median(values - offsets[index]))
    spread = robust_scale(np.abs(values - np.median(values)))
    floor = max(SCALE_FLOOR * spread, np.finfo(np.float64).tiny)
    steps = np.abs(np.diff(values))
    scale = float(np.mean(steps)) if steps.size else spread
    return ResidualState(
        level=level,
        seasonal=array("d", offsets.tolist()),
        scale=max(scale, floor),
        scale_floor=floor,
    )


def _run(
    state: ResidualState, smoothing: Smoothing, values: FloatArray, timestamps: FloatArray
) -> FloatArray:
    step = state.step
    pairs = zip(values.ravel().tolist(), timestamps.ravel().tolist(), strict=True)
    scores = [step(v, t, smoothing)[0] for v, t in pairs]
    return np.asarray(scores, dtype=np.float64).reshape(values.shape)


__all__ = ["ResidualDetector", "initial_state"]
