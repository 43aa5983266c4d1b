"""One contract for both rate limiters: per process (memory) and shared (real Redis at
127.0.0.1:6379, each test under its own random key prefix)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
import redis

from seriesguard.security.ratelimit import (
    InMemoryRateLimiter,
    RateLimiter,
    create_rate_limiter,
)
from seriesguard.security.ratelimit_redis import RedisRateLimiter, bucket_key
from seriesguard.settings import Settings

pytestmark = pytest.mark.integration
REDIS_URL = "redis://127.0.0.1:6379/0"
DEAD_REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused

RATE, BURST = 5.0, 3  # one token every 200 ms: waits stay short, a slow test stays exact

MakeLimiter = Callable[..., RateLimiter]


def run(coroutine: Coroutine[Any, Any, None]) -> None:
    asyncio.run(coroutine)


@pytest.fixture()
def redis_prefix() -> Iterator[str]:
    prefix = f"sg-test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis at {REDIS_URL} is needed for this test: {exc}")
    yield prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


@pytest.fixture(params=["memory", "redis"])
def make_limiter(request: pytest.FixtureRequest) -> MakeLimiter:
    """A factory, called inside the test's event loop (Redis connections belong to a loop)."""
    if request.param == "memory":
        return lambda rate=RATE, burst=BURST: InMemoryRateLimiter(rate, burst)
    prefix = request.getfixturevalue("redis_prefix")
    return lambda rate=RATE, burst=BURST: RedisRateLimiter(REDIS_URL, rate, burst, prefix=prefix)


def test_burst_is_allowed_then_denied_with_a_retry_after(make_limiter: MakeLimiter) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        try:
            assert [await limiter.acquire("alice") for _ in range(BURST)] == [0.0] * BURST
            wait = await limiter.acquire("alice")
            # Empty bucket: one token comes back within 1/RATE seconds.
            assert 0.0 < wait <= 1.0 / RATE + 1e-6
            # A request costing more than is left waits for the difference.
            bigger = await limiter.acquire("alice", cost=2.0)
            assert wait < bigger <= 2.0 / RATE + 1e-6
        finally:
            await limiter.close()

    run(scenario())


def test_bucket_refills_after_the_wait(make_limiter: MakeLimiter) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        try:
            for _ in range(BURST):
                await limiter.acquire("bob")
            wait = await limiter.acquire("bob")
            assert wait > 0.0
            await asyncio.sleep(wait + 0.01)
            assert await limiter.acquire("bob") == 0.0
            assert await limiter.acquire("bob") > 0.0  # one token came back, not the burst
        finally:
            await limiter.close()

    run(scenario())


def test_keys_are_independent(make_limiter: MakeLimiter) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        try:
            for _ in range(BURST):
                await limiter.acquire("carol")
            assert await limiter.acquire("carol") > 0.0
            assert await limiter.acquire("dave") == 0.0
            assert await limiter.acquire("") == 0.0
            assert await limiter.acquire("x" * 100_000) == 0.0  # any size of key
        finally:
            await limiter.close()

    run(scenario())


def test_cost_above_burst_is_never_allowed(make_limiter: MakeLimiter) -> None:
    async def scenario() -> None:
        limiter = make_limiter()
        try:
            assert await limiter.acquire("erin", cost=BURST + 1) == float("inf")
            assert await limiter.acquire("erin", cost=BURST) == 0.0  # and took nothing
        finally:
            await limiter.close()

    run(scenario())


def test_two_redis_replicas_share_one_bucket(redis_prefix: str) -> None:
    async def scenario() -> None:
        # A slow refill, so that no token comes back while the test runs.
        first = RedisRateLimiter(REDIS_URL, 0.1, BURST, prefix=redis_prefix)
        second = RedisRateLimiter(REDIS_URL, 0.1, BURST, prefix=redis_prefix)
        try:
            allowed = [await limiter.acquire("frank") == 0.0 for limiter in (first, second) * BURST]
            assert allowed.count(True) == BURST
            assert await second.acquire("frank") > 0.0
            # Concurrent requests from both replicas still spend each token once.
            assert await first.acquire("grace") == 0.0
            waits = await asyncio.gather(
                *(limiter.acquire("grace") for limiter in (first, second) * 5)
            )
            assert sum(1 for wait in waits if wait == 0.0) <= BURST
        finally:
            await first.close()
            await second.close()

    run(scenario())


def test_replicas_lease_tokens_in_chunks_and_never_admit_more_than_the_limit(
    redis_prefix: str,
) -> None:
    """At high limits each replica takes a lease of tokens per Redis call: far fewer calls,
    and the replicas together still admit at most the burst plus what the rate refills."""

    async def scenario() -> None:
        rate, burst = 200.0, 400  # lease = 10 tokens
        replicas = [RedisRateLimiter(REDIS_URL, rate, burst, prefix=redis_prefix) for _ in "ab"]
        calls = 0
        for replica in replicas:
            script = replica._script

            async def counted(*args: Any, _script: Any = script, **kwargs: Any) -> Any:
                nonlocal calls
                calls += 1
                return await _script(*args, **kwargs)

            replica._script = counted  # type: ignore[assignment]
        try:
            started = time.monotonic()
            waits = [await replicas[i % 2].acquire("heidi") for i in range(1_000)]
            elapsed = time.monotonic() - started
            admitted = sum(1 for wait in waits if wait == 0.0)
            assert admitted <= burst + rate * elapsed + 1
            assert admitted >= burst - 2 * 10  # at most one lease per replica left unspent
            assert calls < 1_000 / 5  # leases, not a round trip per request
        finally:
            for replica in replicas:
                await replica.close()

    run(scenario())


def test_concurrent_requests_of_one_caller_share_one_lease_request(redis_prefix: str) -> None:
    async def scenario() -> None:
        limiter = RedisRateLimiter(REDIS_URL, 10_000.0, 20_000, prefix=redis_prefix)
        calls = 0
        script = limiter._script

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.01)  # a slow Redis: everyone else arrives meanwhile
            return await script(*args, **kwargs)

        limiter._script = counted  # type: ignore[assignment]
        try:
            waits = await asyncio.gather(*(limiter.acquire("ivan") for _ in range(400)))
            assert waits == [0.0] * 400
            assert calls <= 1 + 400 // 500  # one lease (500 tokens) serves them all
        finally:
            await limiter.close()

    run(scenario())


def test_redis_keys_are_digests_and_expire(redis_prefix: str) -> None:
    async def scenario() -> None:
        limiter = RedisRateLimiter(REDIS_URL, RATE, BURST, prefix=redis_prefix)
        try:
            await limiter.acquire("h" * 100_000)
        finally:
            await limiter.close()

    run(scenario())
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{redis_prefix}*"))
    assert keys == [bucket_key(redis_prefix, "h" * 100_000).encode()]
    assert len(keys[0]) == len(redis_prefix) + 32
    ttl_ms = client.pttl(keys[0])
    assert 0 < ttl_ms <= (BURST / RATE + 5.0) * 1000 + 1000  # refill time plus a margin
    client.close()


def test_redis_down_fails_open_quickly(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        limiter = RedisRateLimiter(DEAD_REDIS_URL, RATE, BURST)
        tries = 0
        script = limiter._script

        async def counted(*args: Any, **kwargs: Any) -> Any:
            nonlocal tries
            tries += 1
            return await script(*args, **kwargs)

        limiter._script = counted  # type: ignore[assignment]
        try:
            waits = [await limiter.acquire("ivan") for _ in range(2 * BURST)]
        finally:
            await limiter.close()
        assert waits == [0.0] * (2 * BURST)  # open: every request goes through
        assert tries == 1  # a dead store is skipped after one failure, not paid per request
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1  # said once, not once per request

    with caplog.at_level(logging.WARNING, logger="seriesguard.security.ratelimit_redis"):
        run(scenario())


def test_memory_limiter_stays_bounded_and_forgets_refilled_buckets() -> None:
    now = [0.0]
    limiter = InMemoryRateLimiter(1.0, 2, max_keys=3, clock=lambda: now[0])

    async def scenario() -> None:
        for index in range(10):
            await limiter.acquire(f"k{index}")
            assert len(limiter) <= 3
        await limiter.acquire("k9")
        assert await limiter.acquire("k9") > 0.0  # the most recent key was kept
        now[0] = 100.0  # every bucket has refilled: they are all dropped for a new key
        await limiter.acquire("new")
        assert len(limiter) == 1

    run(scenario())


def test_factory_follows_the_settings() -> None:
    assert create_rate_limiter(Settings(rate_limit_per_second=0)) is None
    memory = create_rate_limiter(Settings(rate_limit_per_second=5, redis_url=None))
    assert isinstance(memory, InMemoryRateLimiter)
    shared = create_rate_limiter(Settings(rate_limit_per_second=5, redis_url=REDIS_URL))
    assert isinstance(shared, RedisRateLimiter)
    run(shared.close())
