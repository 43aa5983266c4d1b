"""Token-bucket arithmetic: hand-worked cases and properties over arbitrary request sequences."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seriesguard.core.ratelimit import Bucket, check_limits, is_full, refilled, take


def test_new_bucket_starts_full_and_spends_its_burst() -> None:
    bucket = None
    for _ in range(3):
        bucket, wait = take(bucket, now=100.0, rate=2.0, burst=3)
        assert wait == 0.0
    assert bucket is not None and bucket.tokens == pytest.approx(0.0)
    denied, wait = take(bucket, now=100.0, rate=2.0, burst=3)
    assert wait == pytest.approx(0.5)  # one token at 2 per second
    assert denied == bucket  # a denied request takes nothing


def test_refill_is_capped_at_burst() -> None:
    bucket = Bucket(tokens=0.0, updated=0.0)
    assert refilled(bucket, now=1.0, rate=2.0, burst=3).tokens == pytest.approx(2.0)
    assert refilled(bucket, now=1000.0, rate=2.0, burst=3).tokens == 3.0
    assert is_full(bucket, now=1.5, rate=2.0, burst=3)
    assert not is_full(bucket, now=1.4, rate=2.0, burst=3)


def test_cost_above_one_and_above_burst() -> None:
    bucket, wait = take(Bucket(tokens=1.0, updated=0.0), now=0.0, rate=1.0, burst=5, cost=3.0)
    assert wait == pytest.approx(2.0) and bucket.tokens == 1.0
    _, wait = take(None, now=0.0, rate=1.0, burst=5, cost=6.0)
    assert wait == math.inf  # never satisfiable


def test_clock_going_back_mints_nothing_and_counts_the_lag() -> None:
    bucket = Bucket(tokens=0.0, updated=100.0)
    back = refilled(bucket, now=90.0, rate=1.0, burst=10)
    assert back == bucket  # no tokens, and the latest instant seen is kept
    _, wait = take(bucket, now=90.0, rate=1.0, burst=10)
    assert wait == pytest.approx(11.0)  # 10 s until the clock is back at 100, then 1 s
    # Coming forward again credits the interval once only.
    assert refilled(back, now=101.0, rate=1.0, burst=10).tokens == pytest.approx(1.0)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (math.inf, 1), (1.0, 0)])
def test_invalid_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        check_limits(rate=rate, burst=burst)


rates = st.floats(min_value=0.01, max_value=1000.0)
bursts = st.integers(min_value=1, max_value=50)
costs = st.floats(min_value=0.1, max_value=5.0)
# Steps may be negative: the clock sometimes goes back.
steps = st.lists(
    st.tuples(st.floats(min_value=-5.0, max_value=5.0), costs), min_size=1, max_size=200
)


@settings(max_examples=300, deadline=None)
@given(rate=rates, burst=bursts, steps=steps)
def test_never_grants_more_than_burst_plus_refill(
    rate: float, burst: int, steps: list[tuple[float, float]]
) -> None:
    now = 1000.0
    start = latest = now + steps[0][0]  # the bucket is born full at the first request
    bucket: Bucket | None = None
    granted, grants = 0.0, 0
    for step, cost in steps:
        now += step
        latest = max(latest, now)
        bucket, wait = take(bucket, now=now, rate=rate, burst=burst, cost=cost)
        if wait == 0.0:
            granted += cost
            grants += 1
        assert 0.0 <= bucket.tokens <= burst
        # Only time the clock has actually moved forward (to its latest value) refills.
        assert granted <= burst + rate * (latest - start) + 1e-6 * (grants + 1)


@settings(max_examples=300, deadline=None)
@given(
    rate=rates,
    burst=bursts,
    tokens=st.floats(min_value=0.0, max_value=1.0),
    lag=st.floats(min_value=0.0, max_value=10.0),
    cost=costs,
)
def test_retrying_after_the_wait_succeeds_and_not_before(
    rate: float, burst: int, tokens: float, lag: float, cost: float
) -> None:
    # ``updated`` ahead of ``now`` by ``lag``: the clock went back since the last request.
    bucket = Bucket(tokens=tokens * burst, updated=500.0 + lag)
    current, wait = take(bucket, now=500.0, rate=rate, burst=burst, cost=cost)
    if wait == 0.0 or math.isinf(wait):
        assert math.isinf(wait) == (cost > burst and tokens * burst < cost)
        return
    _, retry = take(current, now=500.0 + wait, rate=rate, burst=burst, cost=cost)
    assert retry == 0.0
    if wait > 1e-3:
        _, early = take(current, now=500.0 + wait * 0.99, rate=rate, burst=burst, cost=cost)
        assert early > 0.0


@settings(max_examples=200, deadline=None)
@given(
    rate=rates,
    burst=bursts,
    tokens=st.floats(min_value=0.0, max_value=1.0),
    back=st.floats(min_value=0.001, max_value=1e6),
)
def test_clock_backwards_mints_nothing(rate: float, burst: int, tokens: float, back: float) -> None:
    bucket = Bucket(tokens=tokens * burst, updated=2e6)
    assert refilled(bucket, now=2e6 - back, rate=rate, burst=burst) == bucket
    # Round trip back then forward again gives what going straight forward gives.
    there = refilled(bucket, now=2e6 - back, rate=rate, burst=burst)
    assert refilled(there, now=2e6 + 1.0, rate=rate, burst=burst) == refilled(
        bucket, now=2e6 + 1.0, rate=rate, burst=burst
    )
