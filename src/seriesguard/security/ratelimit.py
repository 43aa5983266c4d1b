"""Per-principal request rate limit: one interface, a per-process and a shared implementation.

The key is whoever the caller is: the subject of its token (without authentication the only
caller is the local operator, who is not limited). With
``redis_url`` set every replica draws from the same bucket (:mod:`.ratelimit_redis`); without
it each process limits on its own, which is right for the embedded, one-process mode.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from seriesguard.core.ratelimit import Bucket, check_limits, is_full, take

if TYPE_CHECKING:
    from seriesguard.settings import Settings


class RateLimiter(Protocol):
    async def acquire(self, key: str, *, cost: float = 1.0) -> float:
        """Take ``cost`` tokens from ``key``'s bucket: 0.0 when allowed, else the seconds to
        wait before trying again (for ``Retry-After``)."""
        ...

    async def close(self) -> None:
        """Release connections; the limiter is not used afterwards."""
        ...


class InMemoryRateLimiter:
    """Token buckets in this process's memory, at most ``max_keys`` of them.

    Memory stays bounded whatever keys callers invent: a bucket that has refilled is dropped
    (it is the same as no bucket), and when the table is still full the least recently used
    bucket goes, which at worst gives that one key a fresh burst.
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        max_keys: int = 100_000,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_limits(rate=rate, burst=burst)
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, got {max_keys}")
        self._rate = rate
        self._burst = burst
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()  # least recently used first
        # acquire never awaits, so one event loop needs no lock; the lock covers a limiter
        # shared by threads (e.g. several loops in one process).
        self._lock = threading.Lock()

    async def acquire(self, key: str, *, cost: float = 1.0) -> float:
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(key)
            if bucket is None:
                self._make_room(now)
            updated, wait = take(bucket, now=now, rate=self._rate, burst=self._burst, cost=cost)
            self._buckets[key] = updated
            self._buckets.move_to_end(key)
            return wait

    def _make_room(self, now: float) -> None:
        buckets = self._buckets
        # Refilled buckets gather at the old end: dropping them loses nothing.
        while buckets:
            oldest_key, oldest = next(iter(buckets.items()))
            if not is_full(oldest, now=now, rate=self._rate, burst=self._burst):
                break
            del buckets[oldest_key]
        while len(buckets) >= self._max_keys:
            buckets.popitem(last=False)

    def __len__(self) -> int:
        """Buckets held now (for tests and metrics)."""
        return len(self._buckets)

    async def close(self) -> None:
        with self._lock:
            self._buckets.clear()


def create_rate_limiter(settings: Settings) -> RateLimiter | None:
    """The limiter the settings ask for: None when the limit is off (rate 0), shared through
    Redis when ``redis_url`` is set, per process otherwise."""
    rate, burst = settings.rate_limit_per_second, settings.rate_limit_burst
    if rate == 0:
        return None
    if settings.redis_url:
        # Imported here so processes without Redis never load the client library.
        from seriesguard.security.ratelimit_redis import RedisRateLimiter

        return RedisRateLimiter(settings.redis_url, rate, burst)
    return InMemoryRateLimiter(rate, burst)
