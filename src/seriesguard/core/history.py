"""Points of the history store: what a batch of them is and which ones may be kept.

Pure: the store (``seriesguard.history.store``) writes them, the API and the predictor's
recorder build them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seriesguard.core.errors import InvalidInput
from seriesguard.core.validation import TrainingData, parse_timestamps

FloatArray = npt.NDArray[np.float64]
MAX_POINTS_PER_REQUEST = 100_000  # POST /series/{id}/data; more: send several requests
DAY = 86_400.0


@dataclass(frozen=True)
class PointBatch:
    """Points of any number of series: ``series_ids[i]`` owns ``timestamps[i]``/``values[i]``."""

    series_ids: Sequence[str]
    timestamps: FloatArray
    values: FloatArray

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @classmethod
    def of_series(cls, series_id: str, data: TrainingData) -> PointBatch:
        return cls(
            series_ids=[series_id] * len(data), timestamps=data.timestamps, values=data.values
        )


@dataclass(frozen=True)
class IngestResult:
    series_id: str
    accepted: int  # new points stored
    duplicates: int  # points whose (series, timestamp) was already stored: left as they were
    first: float | None
    last: float | None
    retained_until: float | None  # when the oldest of them will be pruned


def validate_points(
    timestamps: Sequence[object] | FloatArray,
    values: Sequence[float] | FloatArray,
    *,
    oldest_allowed: float,
    max_points: int = MAX_POINTS_PER_REQUEST,
) -> TrainingData:
    """The training body's rules minus the ones only a model needs (a minimum count, a
    spread): equal lengths, at most ``max_points``, parseable and finite timestamps and values,
    strictly increasing; plus none older than ``oldest_allowed`` (it would be pruned at once,
    so it is refused, naming the first such index, rather than silently dropped)."""
    if len(timestamps) != len(values):
        raise InvalidInput(
            f"timestamps has {len(timestamps)} items but values has {len(values)}",
            rule="length_mismatch",
            loc=("body", "timestamps"),
        )
    if len(values) > max_points:
        raise InvalidInput(
            f"{len(values)} points sent; at most {max_points} per request",
            rule="max_points",
            loc=("body", "values"),
        )
    ts = parse_timestamps(timestamps)
    vs = np.asarray(values, dtype=np.float64)
    _check_finite(ts, "timestamps")
    _check_finite(vs, "values")
    _check_increasing(ts)
    if ts.size and ts[0] < oldest_allowed:  # increasing: the first point is the oldest
        index = 0
        too_old = int(np.searchsorted(ts, oldest_allowed, side="left"))
        raise InvalidInput(
            f"timestamps[{index}] ({ts[index]:.0f}) and {too_old - 1} more are older than the "
            f"history's retention (points before {oldest_allowed:.0f} are deleted); send "
            "newer points only",
            rule="beyond_retention",
            loc=("body", "timestamps", index),
        )
    return TrainingData(timestamps=ts, values=vs)


def _check_finite(array: FloatArray, field: str) -> None:
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        index = int(bad[0])
        raise InvalidInput(
            f"{field}[{index}] is {array[index]}; all {field} must be finite",
            rule="finite_values",
            loc=("body", field, index),
        )


def _check_increasing(ts: FloatArray) -> None:
    bad = np.flatnonzero(np.diff(ts) <= 0)
    if bad.size:
        index = int(bad[0]) + 1
        repeated = ts[index] == ts[index - 1]
        raise InvalidInput(
            f"timestamps[{index}] ({ts[index]:.0f}) "
            + ("repeats the previous one" if repeated else "is not after the previous one")
            + "; timestamps must be strictly increasing",
            rule="duplicate_timestamp" if repeated else "strictly_increasing",
            loc=("body", "timestamps", index),
        )


def insufficient_history(
    *, found: int, needed: int, window_hours: int, start: float, end: float
) -> InvalidInput:
    return InvalidInput(
        f"{found} points of history in the last {window_hours} h ({start:.0f} to {end:.0f}); "
        f"training needs at least {needed}: send more points (POST "
        "/api/v1/series/{series_id}/data), widen window_hours or send the points with the request",
        rule="insufficient_history",
        loc=("body", "config", "window_hours"),
    )
