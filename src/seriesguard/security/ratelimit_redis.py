"""Rate-limit buckets shared by every replica, kept in Redis.

One Lua script does the whole token-bucket step atomically on the server, so concurrent
requests on different replicas cannot both spend the last token. The script reads the clock
with Redis's ``TIME``: all replicas see one clock, however skewed their own are. The
arithmetic is the one of :mod:`seriesguard.core.ratelimit`.

A round trip per request would cost more than the request (measured: a predictor saturated
at 8k req/s with one Redis call per request, against 28k without a limit). So each replica
takes tokens from the shared bucket in small leases (a twentieth of the rate or of the burst,
whichever is smaller; 1 for small limits, which keeps them exact) and spends them locally
for at most a second. Tokens leased are gone from the shared bucket, so the replicas together
never admit more than the limit; at worst a replica's unspent lease lapses unused. A refusal
is remembered for its wait too: until then no token can have come back for this replica.

Redis is an aid, not a dependency: when it is down, slow or answering errors the limiter lets
requests through (fails open) and says so in the log at most once a minute; after a failure
it skips Redis for a moment, so requests do not each pay the timeout of a dead server.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import time

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from seriesguard.core.ratelimit import check_limits, refill_seconds

log = logging.getLogger(__name__)

# KEYS[1]: the bucket (a hash: tokens, updated). ARGV: rate, burst, cost, ttl in ms, and the
# most tokens wanted (a lease, >= cost). Returns "granted wait" as a string (a Lua number
# would be truncated to an integer): granted >= cost and wait 0, or granted 0 and the wait.
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
local want = tonumber(ARGV[5])
local wait = 0
local granted = 0
if tokens + 1e-9 * math.max(1, cost) >= cost then
  granted = math.max(cost, math.min(want, math.floor(tokens + 1e-9)))
  tokens = math.max(0, tokens - granted)
elseif cost > burst then
  wait = -1
else
  wait = math.max(0, updated - now) + (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'updated', string.format('%.17g', updated))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return string.format('%.17g %.17g', granted, wait)
"""

_TIMEOUT_SECONDS = 0.25  # connect and read: a slow Redis must not slow every request
_EXPIRY_MARGIN_SECONDS = 5.0  # beyond the refill time, so a bucket never expires early
_WARN_EVERY_SECONDS = 60.0
_SKIP_AFTER_FAILURE_SECONDS = 1.0  # after a failure, Redis is skipped (open) this long
LEASE_SECONDS = 1.0  # tokens leased and not spent within this lapse
_MAX_LEASES = 10_000  # callers holding a lease in one process; beyond, the oldest lapse
_NOTHING = (0.0, 0.0, 0.0, 0.0)


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
        self._lease = float(max(1, math.floor(min(rate, burst) / 20)))
        # key -> (tokens left, lease lapses at, refused until, cost refused): monotonic time.
        self._leases: dict[str, tuple[float, float, float, float]] = {}
        self._fetching: dict[str, asyncio.Future[None]] = {}  # one lease request per caller
        self._skip_until = 0.0  # monotonic instant before which Redis is not asked
        self._last_warning: float | None = None

    async def acquire(self, key: str, *, cost: float = 1.0) -> float:
        if cost > self._burst:
            return math.inf  # never satisfiable: no need to ask Redis
        while True:
            local = self._local(key, cost)
            if local is not None:
                return local
            pending = self._fetching.get(key)
            if pending is None:
                break
            await pending  # another request of this caller is leasing: use what it brings
        if time.monotonic() < self._skip_until:
            return 0.0
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._fetching[key] = done
        try:
            return await self._lease_from_redis(key, cost)
        finally:
            del self._fetching[key]
            done.set_result(None)

    def _local(self, key: str, cost: float) -> float | None:
        """0.0 when the caller's lease covers ``cost``, the rest of a recent refusal's wait,
        or None when Redis must be asked."""
        now = time.monotonic()
        left, lapses, refused_until, refused_cost = self._leases.get(key, _NOTHING)
        if now < lapses and left >= cost:
            self._leases[key] = (left - cost, lapses, 0.0, 0.0)
            return 0.0
        if now < refused_until and cost <= refused_cost:
            return refused_until - now
        return None

    async def _lease_from_redis(self, key: str, cost: float) -> float:
        now = time.monotonic()
        want = max(cost, self._lease)
        try:
            # Runs EVALSHA, and loads the script first if the server does not know it yet.
            reply = await self._script(
                keys=[bucket_key(self._prefix, key)],
                args=[repr(self._rate), self._burst, repr(float(cost)), self._ttl_ms, repr(want)],
            )
            granted, wait = map(
                float, (reply.decode() if isinstance(reply, bytes) else reply).split()
            )
        except Exception as exc:  # any failure of the aid fails open, whatever its kind
            self._skip_until = time.monotonic() + _SKIP_AFTER_FAILURE_SECONDS
            self._warn(exc)
            return 0.0
        if wait < 0:
            return math.inf
        if granted >= cost:
            left, lapses, _until, _cost = self._leases.get(key, _NOTHING)
            kept = left if now < lapses else 0.0  # what is left of a lease still running
            self._remember(key, (kept + granted - cost, now + LEASE_SECONDS, 0.0, 0.0))
            return 0.0
        self._remember(key, (0.0, 0.0, now + wait, cost))
        return wait

    def _remember(self, key: str, state: tuple[float, float, float, float]) -> None:
        if key not in self._leases and len(self._leases) >= _MAX_LEASES:
            del self._leases[next(iter(self._leases))]  # oldest first: dicts keep order
        self._leases[key] = state

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
