"""The per-series state of the residual detector and the one step that advances it.

The forecast of the next point is ``level + seasonal[bucket]``: an exponentially weighted level
plus an hour-of-day (or hour-of-week) offset, each updated by the residual of every point (an
additive Holt-Winters without trend, on hour buckets). The score is the residual over a running
scale (an exponentially weighted mean absolute residual). Updates clip the residual at
``OUTLIER_CLIP`` scales, so one wild point moves the forecast by a bounded step.

The score is gated for novelty: a point scores its residual only when that exceeds every
residual of the last ``rearm_points`` points, else 0. A spike scores once; a level shift scores
at its onset and not again while the level adapts; a noisy stretch stops re-alarming on every
point. One excursion, one alarm: what an operator wants paged, and what NAB rewards.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass

# Residuals beyond this many scales update the forecast as if they were this far: an outlier
# must not drag the level (nor inflate the scale) it is judged against.
OUTLIER_CLIP = 5.0


@dataclass(frozen=True, slots=True)
class Smoothing:
    """How fast each part of the forecast follows the data (0 < weight <= 1 per point)."""

    level: float
    seasonal: float
    scale: float
    rearm_points: int


class ResidualState:
    """Mutable state of one series: a few floats, one per hour bucket, and the recent peaks."""

    __slots__ = ("last_timestamp", "level", "peaks", "scale", "scale_floor", "seasonal", "seen")

    def __init__(
        self,
        *,
        level: float,
        seasonal: array[float],
        scale: float,
        scale_floor: float,
        seen: int = 0,
        last_timestamp: float = -math.inf,
        peaks: list[tuple[int, float]] | None = None,
    ) -> None:
        self.level = level
        self.seasonal = seasonal
        self.scale = scale
        self.scale_floor = scale_floor
        self.seen = seen  # points consumed; the peaks are indexed by it
        self.last_timestamp = last_timestamp
        # (index, residual) with decreasing residuals: the running maximum of the rearm window.
        # A list, not a deque: it holds a handful of entries, and an empty deque costs 600 bytes
        # a series where a list costs 56 (twice per series, 285,000 series).
        self.peaks: list[tuple[int, float]] = [] if peaks is None else peaks

    def copy(self) -> ResidualState:
        return ResidualState(
            level=self.level,
            seasonal=array("d", self.seasonal),
            scale=self.scale,
            scale_floor=self.scale_floor,
            seen=self.seen,
            last_timestamp=self.last_timestamp,
            peaks=list(self.peaks),
        )

    def trim_peaks(self, kept: int) -> None:
        """Keep the ``kept`` largest peaks (the head of the list)."""
        while len(self.peaks) > kept:
            self.peaks.pop()

    def bucket(self, timestamp: float) -> int:
        n = len(self.seasonal)
        if n == 1:
            return 0
        try:
            return int((timestamp // 3600.0) % n)
        except (ValueError, OverflowError):  # nan / inf timestamp: no hour to look up
            return 0

    def residual(self, value: float, timestamp: float) -> tuple[float, int]:
        """The point's residual in scales, and its bucket."""
        b = self.bucket(timestamp)
        error = value - self.level - self.seasonal[b]
        return abs(error) / self.scale, b

    def step(self, value: float, timestamp: float, smoothing: Smoothing) -> tuple[float, float]:
        """(gated score, raw residual in scales) of the point; the state learns from it unless
        its timestamp is not after the last one learnt (a replay must not count twice)."""
        raw, b = self.residual(value, timestamp)
        if not math.isfinite(raw):
            raw = math.inf if not math.isnan(raw) else 0.0
        peaks = self.peaks
        window = smoothing.rearm_points
        while peaks and peaks[0][0] < self.seen - window:
            del peaks[0]
        gated = raw if window == 0 or not peaks or raw > peaks[0][1] else 0.0
        if not timestamp > self.last_timestamp:
            return gated, raw
        if window:
            while peaks and peaks[-1][1] <= raw:
                peaks.pop()
            peaks.append((self.seen, raw))
        self._learn(value, b, smoothing)
        self.seen += 1
        self.last_timestamp = timestamp
        return gated, raw

    def _learn(self, value: float, b: int, smoothing: Smoothing) -> None:
        error = value - self.level - self.seasonal[b]
        limit = OUTLIER_CLIP * self.scale
        clipped = max(-limit, min(limit, error))
        if not math.isfinite(clipped):
            return  # a value beyond float range teaches nothing
        self.level += smoothing.level * clipped
        if len(self.seasonal) > 1:
            self.seasonal[b] += smoothing.seasonal * clipped
        scale = self.scale + smoothing.scale * (abs(clipped) - self.scale)
        self.scale = max(scale, self.scale_floor)
