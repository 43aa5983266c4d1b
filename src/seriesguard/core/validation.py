"""Training input rules from the seed, each failing with its name and the offending index."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from seriesguard.core.errors import InvalidInput

MIN_STD = 1e-6
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TrainingData:
    """Validated training points: epoch seconds and finite values, strictly increasing."""

    timestamps: FloatArray
    values: FloatArray

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass(frozen=True)
class PointLimits:
    min_points: int = 10_000
    max_points: int = 100_000


def parse_timestamp(raw: object, *, loc: tuple[str | int, ...]) -> float:
    """Epoch seconds (int/float) or ISO-8601 text; naive ISO times are taken as UTC."""
    if isinstance(raw, bool):
        raise _bad_timestamp(raw, loc)
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise _bad_timestamp(raw, loc) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise _bad_timestamp(raw, loc)


def _bad_timestamp(raw: object, loc: tuple[str | int, ...]) -> InvalidInput:
    return InvalidInput(
        f"timestamp {str(raw)[:40]!r} is neither epoch seconds nor ISO-8601",
        rule="timestamp_format",
        loc=loc,
    )


_NUMBERS = frozenset({int, float})


def parse_timestamps(raw: Sequence[object] | FloatArray) -> FloatArray:
    if isinstance(raw, np.ndarray):  # already numbers (a columnar body)
        return raw.astype(np.float64, copy=False)
    # The set of exact element types is gathered in C: ~10x faster than an isinstance loop
    # over 100k points. Exact types on purpose: bool (an int subclass) is not a timestamp.
    if set(map(type, raw)) <= _NUMBERS:
        return np.asarray(raw, dtype=np.float64)
    return np.fromiter(
        (parse_timestamp(t, loc=("body", "timestamps", i)) for i, t in enumerate(raw)),
        dtype=np.float64,
        count=len(raw),
    )


def validate_training_data(
    timestamps: Sequence[object] | FloatArray,
    values: Sequence[float] | FloatArray,
    *,
    limits: PointLimits,
) -> TrainingData:
    """Apply every rule of the seed in a fixed order and return the points as arrays."""
    if len(timestamps) != len(values):
        raise InvalidInput(
            f"timestamps has {len(timestamps)} items but values has {len(values)}",
            rule="length_mismatch",
            loc=("body", "timestamps"),
        )
    _check_count(len(values), limits)
    ts = parse_timestamps(timestamps)
    vs = np.asarray(values, dtype=np.float64)
    _check_finite(ts, "timestamps")
    _check_finite(vs, "values")
    _check_increasing(ts)
    std = float(np.std(vs))
    if not std > MIN_STD:
        raise InvalidInput(
            f"values have standard deviation {std:.3g}; a constant series cannot be modelled "
            f"(must be > {MIN_STD:g})",
            rule="min_std",
            loc=("body", "values"),
        )
    return TrainingData(timestamps=ts, values=vs)


def _check_count(count: int, limits: PointLimits) -> None:
    if count < limits.min_points:
        raise InvalidInput(
            f"{count} points sent; at least {limits.min_points} are needed",
            rule="min_points",
            loc=("body", "values"),
        )
    if count > limits.max_points:
        raise InvalidInput(
            f"{count} points sent; at most {limits.max_points} are accepted",
            rule="max_points",
            loc=("body", "values"),
        )


def _check_finite(array: FloatArray, field: str) -> None:
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        index = int(bad[0])
        raise InvalidInput(
            f"{field}[{index}] is {array[index]}; all {field} must be finite "
            f"({bad.size} offending item(s))",
            rule="finite_values",
            loc=("body", field, index),
        )


def _check_increasing(ts: FloatArray) -> None:
    steps = np.diff(ts)
    bad = np.flatnonzero(steps <= 0)
    if not bad.size:
        return
    index = int(bad[0]) + 1
    if steps[bad[0]] == 0:
        raise InvalidInput(
            f"timestamps[{index}] repeats timestamps[{index - 1}] ({ts[index]:.0f}); "
            "duplicates are not allowed",
            rule="duplicate_timestamp",
            loc=("body", "timestamps", index),
        )
    raise InvalidInput(
        f"timestamps[{index}] ({ts[index]:.0f}) is not after timestamps[{index - 1}] "
        f"({ts[index - 1]:.0f}); timestamps must be strictly increasing",
        rule="strictly_increasing",
        loc=("body", "timestamps", index),
    )
