"""Which version answers a request of a series with a canary: a deterministic split.

The predictor splits traffic per series (DESIGN.md §2: no Istio VirtualService per series).
A request goes to the canary iff ``bucket(series_key(series), timestamp) < cut(percentage)``,
so a point is answered by the same version every time it is sent, by every pod, in a single
or a batch predict, after any restart: nothing here depends on the process (Python's
``hash()`` of a string does, so it is not used).

``bucket`` mixes the series key with the timestamp in milliseconds through splitmix64's
finaliser, so consecutive timestamps (a sensor every second, every ten minutes) spread
evenly over the 10,000 buckets. ``buckets`` is the same function over a numpy array.
"""

from __future__ import annotations

import zlib

import numpy as np
import numpy.typing as npt

BUCKETS = 10_000  # a cut is in hundredths of a percent
_MASK = (1 << 64) - 1
_GAMMA = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
# Milliseconds are clamped here (146 million years): beyond int64 numpy's cast is undefined.
_LIMIT = 1 << 62


def series_key(series_id: str) -> int:
    """A stable 64-bit key of a series (two CRC32s of its id, salted differently)."""
    data = series_id.encode()
    return (zlib.crc32(data) << 32) | zlib.crc32(data, 0x5EED)


def cut(percentage: float) -> int:
    """Buckets below the cut go to the canary: ``percentage`` % of them (0-100)."""
    return min(BUCKETS, max(0, round(percentage * 100)))


def _millis(timestamp: float) -> int:
    # Two's complement on 64 bits, as numpy's int64 -> uint64 cast does.
    return min(_LIMIT, max(-_LIMIT, round(timestamp * 1000))) & _MASK


def bucket(key: int, timestamp: float) -> int:
    """The bucket of one request, in [0, BUCKETS)."""
    z = ((key ^ _millis(timestamp)) + _GAMMA) & _MASK
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK
    return (z ^ (z >> 31)) % BUCKETS


def buckets(key: int, timestamps: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """:func:`bucket` of every timestamp (uint64 arithmetic wraps like the masks above)."""
    # np.rint rounds half to even like round(); Python's round of a float does too.
    millis = np.clip(np.rint(timestamps * 1000.0), -_LIMIT, _LIMIT)
    millis = millis.astype(np.int64).astype(np.uint64)
    z = (np.uint64(key) ^ millis) + np.uint64(_GAMMA)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_MIX1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_MIX2)
    z = z ^ (z >> np.uint64(31))
    return (z % np.uint64(BUCKETS)).astype(np.int64)
