"""A mergeable latency sketch: counts per fixed logarithmic bucket.

Every process buckets latencies on the same fixed grid, so sketches of any number of
processes (and hours) merge by adding counts per bucket index, with no loss beyond the
bucketing itself. Bucket ``i >= 1`` covers ``(MIN_SECONDS * GAMMA**(i-1), MIN_SECONDS *
GAMMA**i]``; bucket 0 holds everything at or below ``MIN_SECONDS`` (zero, negative clock
skew); ``MAX_INDEX`` also holds everything above its upper edge (about 125 s). A sketch is
a sparse ``dict[int, int]``: bucket index -> observations, empty buckets absent.

Any quantile is reported within a relative error of ``(GAMMA - 1) / (GAMMA + 1)`` (4.8 %)
of the exact one, except in the two end buckets (at most ``MIN_SECONDS`` absolute error at
the bottom; an underestimate at the top).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MIN_SECONDS = 1e-6
GAMMA = 1.1
# The bucket whose range holds 120 s: latencies beyond a request timeout need no resolution.
MAX_INDEX = math.ceil(math.log(120.0 / MIN_SECONDS) / math.log(GAMMA))
RELATIVE_ERROR = (GAMMA - 1.0) / (GAMMA + 1.0)
DEFAULT_QUANTILES = (0.5, 0.95, 0.99)

_INV_LOG_GAMMA = 1.0 / math.log(GAMMA)
_LOG_MIN = math.log(MIN_SECONDS)
# Inside (lo, GAMMA*lo] the value 2*GAMMA*lo / (1 + GAMMA) is equally far, relatively, from
# both ends: the least worst-case relative error of any point of the bucket.
_CENTRE = 2.0 * GAMMA / (1.0 + GAMMA)
_TOP_LOWER_EDGE = MIN_SECONDS * GAMMA ** (MAX_INDEX - 1)


def bucket_of(seconds: float) -> int:
    """The bucket a latency falls in (runs on every prediction: one log, no allocation)."""
    if not seconds > MIN_SECONDS:  # also sends NaN to bucket 0
        return 0
    if seconds > _TOP_LOWER_EDGE:  # also keeps infinity away from math.ceil
        return MAX_INDEX
    index = math.ceil((math.log(seconds) - _LOG_MIN) * _INV_LOG_GAMMA)
    return index if index < MAX_INDEX else MAX_INDEX


def bucket_value(index: int) -> float:
    """The representative latency of a bucket: the point of least relative error in it."""
    if index <= 0:
        return MIN_SECONDS
    return float(MIN_SECONDS * GAMMA ** (min(index, MAX_INDEX) - 1) * _CENTRE)


def merge(a: Mapping[int, int], b: Mapping[int, int]) -> dict[int, int]:
    """The sketch of the observations of both (neither argument is changed)."""
    merged = dict(a)
    for index, n in b.items():
        merged[index] = merged.get(index, 0) + n
    return merged


def merge_all(sketches: Iterable[Mapping[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for sketch in sketches:
        for index, n in sketch.items():
            merged[index] = merged.get(index, 0) + n
    return merged


def count(sketch: Mapping[int, int]) -> int:
    return sum(sketch.values())


def _rank(q: float, n: int) -> int:
    """1-based rank of the observation quantile ``q`` names among ``n``: ceil(q*n), at least 1.

    ``q * n`` is rounded to 9 decimals first so that float noise (0.07 * 100 is
    7.000000000000001) does not push the rank one observation up.
    """
    return max(1, math.ceil(round(q * n, 9)))


def quantiles(
    sketch: Mapping[int, int], qs: Sequence[float] = DEFAULT_QUANTILES
) -> dict[float, float | None]:
    """Several quantiles in one pass over the buckets; see :func:`quantile` for the rule."""
    for q in qs:
        if not 0.0 <= q <= 1.0:
            raise ValueError(f"a quantile must lie in [0, 1], got {q}")
    n = count(sketch)
    if n <= 0:
        return dict.fromkeys(qs)
    pending = sorted(qs, key=lambda q: _rank(q, n))
    found: dict[float, float | None] = {}
    seen = 0
    for index in sorted(i for i, c in sketch.items() if c > 0):
        seen += sketch[index]
        while pending and _rank(pending[0], n) <= seen:
            found[pending.pop(0)] = bucket_value(index)
    return {q: found[q] for q in qs}


def quantile(sketch: Mapping[int, int], q: float) -> float | None:
    """The value of the bucket holding the ``ceil(q*n)``-th smallest of the ``n`` observations
    (q = 0 gives the smallest, q = 1 the largest); None for an empty sketch."""
    return quantiles(sketch, (q,))[q]


def to_json(sketch: Mapping[int, int]) -> dict[str, int]:
    """JSON object keys are strings; empty buckets are left out."""
    return {str(index): n for index, n in sorted(sketch.items()) if n}


def from_json(document: Mapping[str, Any]) -> dict[int, int]:
    """Read back :func:`to_json`, refusing anything that is not a sketch of this grid."""
    sketch: dict[int, int] = {}
    for key, n in document.items():
        index = _parse_index(key)
        if index is None or not 0 <= index <= MAX_INDEX:
            raise ValueError(f"latency sketch key {key!r} is not a bucket index in 0..{MAX_INDEX}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"latency sketch count at key {key!r} must be an integer >= 0")
        if n:
            sketch[index] = sketch.get(index, 0) + n
    return sketch


def _parse_index(key: object) -> int | None:
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    # Canonical decimal only, so that "7" and "07" cannot name one bucket twice.
    if isinstance(key, str) and key.isascii() and key.isdigit() and str(int(key)) == key:
        return int(key)
    return None
