"""Token-bucket arithmetic for the per-principal request rate limit.

A bucket holds up to ``burst`` tokens and refills at ``rate`` tokens per second; a request
costs ``cost`` tokens. Pure: the clock is passed in, so the in-memory limiter (monotonic clock)
and the Redis script (the server's ``TIME``) apply the same rule, and tests can drive time.

Time only moves the bucket forward: a ``now`` earlier than the bucket's ``updated`` (a clock
stepped back, or a replica whose clock lags) refills nothing, and ``updated`` stays at the
latest instant seen, so the same interval is never credited twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Floating-point slack when comparing tokens with the cost: a caller that waits exactly the
# wait we returned must get through, even if ``tokens + wait * rate`` rounds a hair below.
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Bucket:
    """Tokens left at instant ``updated`` (seconds, on the caller's clock)."""

    tokens: float
    updated: float


def check_limits(*, rate: float, burst: int) -> None:
    """Raise ``ValueError`` unless ``rate`` and ``burst`` describe a usable bucket."""
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a finite number > 0, got {rate}")
    if burst < 1:
        raise ValueError(f"burst must be >= 1, got {burst}")


def refill_seconds(*, rate: float, burst: int) -> float:
    """Seconds an empty bucket takes to fill up: after that it is as good as a new one."""
    return burst / rate


def refilled(bucket: Bucket | None, *, now: float, rate: float, burst: int) -> Bucket:
    """The bucket as it stands at ``now``: full when new, never above ``burst``."""
    if bucket is None:
        return Bucket(tokens=float(burst), updated=now)
    if now <= bucket.updated:
        return bucket  # the clock went back (or stood still): nothing to add
    tokens = min(float(burst), bucket.tokens + (now - bucket.updated) * rate)
    return Bucket(tokens=tokens, updated=now)


def take(
    bucket: Bucket | None, *, now: float, rate: float, burst: int, cost: float = 1.0
) -> tuple[Bucket, float]:
    """Try to take ``cost`` tokens at ``now``; returns the new bucket and the wait.

    The wait is 0.0 when the request is allowed; otherwise it is the number of seconds after
    ``now`` at which ``cost`` tokens will be there (if nothing else takes them), and the
    request took nothing. A ``cost`` above ``burst`` can never be met: the wait is infinite.
    ``rate`` and ``burst`` are assumed valid (see :func:`check_limits`).
    """
    current = refilled(bucket, now=now, rate=rate, burst=burst)
    if current.tokens + _EPSILON * max(1.0, cost) >= cost:
        return Bucket(tokens=max(0.0, current.tokens - cost), updated=current.updated), 0.0
    if cost > burst:
        return current, math.inf
    # When the clock lags behind ``updated``, refilling starts only once it gets there.
    lag = max(0.0, current.updated - now)
    return current, lag + (cost - current.tokens) / rate


def is_full(bucket: Bucket, *, now: float, rate: float, burst: int) -> bool:
    """True when the bucket has refilled completely by ``now``: forgetting it changes nothing."""
    return refilled(bucket, now=now, rate=rate, burst=burst).tokens >= burst
