"""Rate-limit buckets shared by every replica, kept in Redis.

One Lua script does the whole token-bucket step atomically on the server, so concurrent
requests on different replicas cannot both spend the last token. The script reads the clock
with Redis's ``TIME``: all replicas see one clock, however skewed their own are. The
arithmetic is the one of :mod:`seriesguard.core.ratelimit`.

Redis is an aid, not a dependency: when it is down, slow or answering errors the limiter lets
requests through (fails open) and says so in the log at most once a minute; after a failure
it skips Redis for a moment, so requests do not each pay the timeout of a dead server.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from seriesguard.core.ratelimit import check_limits, refill_seconds

log = logging.getLogger(__name__)

# KEYS[1]: the bucket (a hash: tokens, updated). ARGV: rate, burst, cost, ttl in ms.
# Returns the wait in seconds as a string (a Lua number would be truncated to an integer).
# Numbers are stored with %.17g: Lua's default %.14g would round microsecond timestamps.
_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = burst
  updated = now
elseif now > updated then
  tokens = math.min(burst, tokens + (now - updated) * rate)
  updated = now
end
local wait = 0
if tokens + 1e-9 * math.max(1, cost) >= cost then
  tokens = math.max(0, tokens - cost)
elseif cost > burst then
  wait = -1
else
  wait = math.max(0, updated - now) + (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'updated', string.format('%.17g', updated))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return string.format('%.17g', wait)
"""

_TIMEOUT_SECONDS = 0.25  # connect and read: a slow Redis must not slow every request
_EXPIRY_MARGIN_SECONDS = 5.0  # beyond the refill time, so a bucket never expires early
_WARN_EVERY_SECONDS = 60.0
_SKIP_AFTER_FAILURE_SECONDS = 1.0  # after a failure, Redis is skipped (open) this long


def bucket_key(prefix: str, key: str) -> str:
    """Redis key of ``key``'s bucket: a digest, so any caller-chosen key has a fixed size."""
    digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return f"{prefix}{digest}"


class RedisRateLimiter:
    """Token buckets in Redis, shared by every process that uses the same URL and prefix."""

    def __init__(self, url: str, rate: float, burst: int, prefix: str = "seriesguard:rl:") -> None:
        check_limits(rate=rate, burst=burst)
        self._rate = rate
        self._burst = burst
        self._prefix = prefix
        ttl = refill_seconds(rate=rate, burst=burst) + _EXPIRY_MARGIN_SECONDS
        self._ttl_ms = math.ceil(ttl * 1000)
        self._client = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=_TIMEOUT_SECONDS,
            socket_timeout=_TIMEOUT_SECONDS,
            # No retries: a retry only doubles the time a request waits on a sick Redis.
            retry=Retry(NoBackoff(), 0),
        )
        self._script = self._client.register_script(_SCRIPT)
        self._skip_until = 0.0  # monotonic instant before which Redis is not asked
        self._last_warning: float | None = None

    async def acquire(self, key: str, *, cost: float = 1.0) -> float:
        if cost > self._burst:
            return math.inf  # never satisfiable: no need to ask Redis
        if time.monotonic() < self._skip_until:
            return 0.0
        try:
            # Runs EVALSHA, and loads the script first if the server does not know it yet.
            reply = await self._script(
                keys=[bucket_key(self._prefix, key)],
                args=[repr(self._rate), self._burst, repr(float(cost)), self._ttl_ms],
            )
            wait = float(reply.decode() if isinstance(reply, bytes) else reply)
        except Exception as exc:  # any failure of the aid fails open, whatever its kind
            self._skip_until = time.monotonic() + _SKIP_AFTER_FAILURE_SECONDS
            self._warn(exc)
            return 0.0
        return math.inf if wait < 0 else wait

    def _warn(self, exc: Exception) -> None:
        now = time.monotonic()
        if self._last_warning is not None and now - self._last_warning < _WARN_EVERY_SECONDS:
            return
        self._last_warning = now
        log.warning(
            "rate limit store unreachable, requests are not rate limited: %s: %s",
            type(exc).__name__,
            " ".join(str(exc).split())[:200],
        )

    async def close(self) -> None:
        try:
            await self._client.aclose()
        except Exception as exc:  # closing a dead connection is no reason to fail a shutdown
            log.debug("closing the rate limit store failed: %s", exc)
