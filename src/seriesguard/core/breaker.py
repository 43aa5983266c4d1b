"""A circuit breaker: stop calling a backend that keeps failing, try again after a pause.

Without it, every caller pays the full timeout of a dead MLflow or S3 (5 s each by default):
a predictor cold-loading many series would stall on each one instead of going straight to its
fallback, and each worker would hold a job for the timeout before handing it back.

States: *closed* (calls go through; ``failure_threshold`` failures in a row open it), *open*
(calls are refused at once with :class:`CircuitOpen` until ``reset_seconds`` have passed),
*half-open* (one trial call goes through, the others are still refused; its success closes the
breaker, its failure opens it for another ``reset_seconds``).

Pure: the clock is passed in, no I/O. Thread-safe, since workers and request threads share one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitOpen(Exception):
    """Raised instead of calling a backend whose breaker is open."""

    def __init__(self, name: str, *, retry_in: float, last_error: str | None) -> None:
        self.name = name
        self.retry_in = retry_in
        self.last_error = last_error
        cause = f"; last error: {last_error}" if last_error else ""
        super().__init__(
            f"circuit breaker for {name} is open after repeated failures, next try in "
            f"{retry_in:.0f} s{cause}"
        )


@dataclass(frozen=True)
class BreakerSnapshot:
    name: str
    state: BreakerState
    consecutive_failures: int
    opened_count: int  # how many times it has opened since the process started
    last_error: str | None


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        clock: Callable[[], float],
        failure_threshold: int = 5,
        reset_seconds: float = 30.0,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_seconds <= 0:
            raise ValueError(f"reset_seconds must be > 0, got {reset_seconds}")
        self.name = name
        self._clock = clock
        self._threshold = failure_threshold
        self._reset = reset_seconds
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._opened_count = 0
        self._trial_in_flight = False
        self._last_error: str | None = None

    def before_call(self) -> None:
        """Raise :class:`CircuitOpen` unless a call may go to the backend now."""
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return
            waited = self._clock() - self._opened_at
            if self._state is BreakerState.OPEN and waited >= self._reset:
                self._state = BreakerState.HALF_OPEN
            if self._state is BreakerState.HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return
            raise CircuitOpen(
                self.name, retry_in=max(0.0, self._reset - waited), last_error=self._last_error
            )

    def record_success(self) -> None:
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0
            self._trial_in_flight = False

    def record_failure(self, error: str) -> None:
        with self._lock:
            self._failures += 1
            self._last_error = error
            trial_failed = self._state is BreakerState.HALF_OPEN
            self._trial_in_flight = False
            if trial_failed or self._failures >= self._threshold:
                if self._state is not BreakerState.OPEN:
                    self._opened_count += 1
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()

    def snapshot(self) -> BreakerSnapshot:
        with self._lock:
            state = self._state
            if state is BreakerState.OPEN and self._clock() - self._opened_at >= self._reset:
                state = BreakerState.HALF_OPEN  # the next call will be let through
            return BreakerSnapshot(
                name=self.name,
                state=state,
                consecutive_failures=self._failures,
                opened_count=self._opened_count,
                last_error=self._last_error,
            )


@dataclass(frozen=True)
class BreakerPolicy:
    """How a backend's breaker behaves; one per process, from the settings."""

    failure_threshold: int = 5
    reset_seconds: float = 30.0

    def make(self, name: str, *, clock: Callable[[], float]) -> CircuitBreaker:
        return CircuitBreaker(
            name,
            clock=clock,
            failure_threshold=self.failure_threshold,
            reset_seconds=self.reset_seconds,
        )


@contextmanager
def guarded(
    breaker: CircuitBreaker, *, is_outage: Callable[[BaseException], bool]
) -> Iterator[None]:
    """Run the block through ``breaker``: refused with :class:`CircuitOpen` while open; an
    exception for which ``is_outage`` is true counts as a failure, any other outcome (success,
    or an answer such as "not found") as a success, since the backend did answer."""
    breaker.before_call()
    try:
        yield
    except BaseException as exc:
        if is_outage(exc):
            breaker.record_failure(f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
        else:
            breaker.record_success()
        raise
    breaker.record_success()
