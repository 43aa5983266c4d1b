from __future__ import annotations

import threading

import pytest

from seriesguard.core.breaker import (
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    CircuitOpen,
    guarded,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock, threshold: int = 3, reset: float = 10.0) -> CircuitBreaker:
    return CircuitBreaker("mlflow", clock=clock, failure_threshold=threshold, reset_seconds=reset)


def fail(b: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        b.before_call()
        b.record_failure("ConnectionError: refused")


def test_opens_after_threshold_failures_in_a_row() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 2)
    assert b.snapshot().state is BreakerState.CLOSED
    fail(b, 1)
    assert b.snapshot().state is BreakerState.OPEN
    with pytest.raises(CircuitOpen) as raised:
        b.before_call()
    assert raised.value.name == "mlflow"
    assert raised.value.retry_in == pytest.approx(10.0)
    assert "ConnectionError: refused" in str(raised.value)


def test_a_success_resets_the_count() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 2)
    b.before_call()
    b.record_success()
    fail(b, 2)
    assert b.snapshot().state is BreakerState.CLOSED
    assert b.snapshot().consecutive_failures == 2


def test_half_open_lets_one_trial_through_and_its_success_closes() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 9.9
    with pytest.raises(CircuitOpen):
        b.before_call()
    clock.now += 0.1
    assert b.snapshot().state is BreakerState.HALF_OPEN
    b.before_call()  # the trial
    with pytest.raises(CircuitOpen):
        b.before_call()  # others wait for the trial's outcome
    b.record_success()
    assert b.snapshot().state is BreakerState.CLOSED
    b.before_call()


def test_failed_trial_opens_again_for_a_full_period() -> None:
    clock = Clock()
    b = breaker(clock)
    fail(b, 3)
    clock.now += 10
    b.before_call()
    b.record_failure("timeout")
    snap = b.snapshot()
    assert snap.state is BreakerState.OPEN
    assert snap.opened_count == 2
    assert snap.last_error == "timeout"
    clock.now += 5
    with pytest.raises(CircuitOpen) as raised:
        b.before_call()
    assert raised.value.retry_in == pytest.approx(5.0)


def test_guarded_counts_only_outages() -> None:
    clock = Clock()
    b = breaker(clock, threshold=1)

    with pytest.raises(KeyError), guarded(b, is_outage=lambda e: isinstance(e, OSError)):
        raise KeyError("not found is an answer")
    assert b.snapshot().state is BreakerState.CLOSED

    with pytest.raises(OSError), guarded(b, is_outage=lambda e: isinstance(e, OSError)):
        raise OSError("connection refused")
    assert b.snapshot().state is BreakerState.OPEN

    ran = []
    with pytest.raises(CircuitOpen), guarded(b, is_outage=lambda e: True):
        ran.append(1)
    assert ran == []  # refused before the block


def test_guarded_success_after_reset_closes() -> None:
    clock = Clock()
    b = breaker(clock, threshold=1)
    with pytest.raises(OSError), guarded(b, is_outage=lambda e: True):
        raise OSError
    clock.now += 10
    with guarded(b, is_outage=lambda e: True):
        pass
    assert b.snapshot().state is BreakerState.CLOSED


def test_only_one_trial_among_concurrent_callers() -> None:
    clock = Clock()
    b = breaker(clock, threshold=1)
    fail(b, 1)
    clock.now += 10
    admitted: list[int] = []
    barrier = threading.Barrier(8)

    def call(index: int) -> None:
        barrier.wait()
        try:
            b.before_call()
            admitted.append(index)
        except CircuitOpen:
            pass

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(admitted) == 1


@pytest.mark.parametrize(("threshold", "reset"), [(0, 1.0), (1, 0.0)])
def test_rejects_nonsense_settings(threshold: int, reset: float) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker("x", clock=Clock(), failure_threshold=threshold, reset_seconds=reset)


def test_policy_makes_breakers_with_its_settings() -> None:
    clock = Clock()
    b = BreakerPolicy(failure_threshold=2, reset_seconds=3).make("s3", clock=clock)
    fail(b, 2)
    assert b.snapshot().state is BreakerState.OPEN
    clock.now += 3
    assert b.snapshot().state is BreakerState.HALF_OPEN
