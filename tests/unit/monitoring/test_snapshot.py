"""Snapshot: served from memory, refreshed behind its readers, one computation at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from seriesguard.monitoring.snapshot import Snapshot


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Deferred:
    """A spawn that keeps the refresh for the test to run when it wants."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def __call__(self, target: Callable[[], None]) -> None:
        self.pending.append(target)

    def run(self) -> None:
        while self.pending:
            self.pending.pop(0)()


class Counting:
    def __init__(self, clock: Clock, *, takes: float = 0.0) -> None:
        self.calls = 0
        self.clock = clock
        self.takes = takes
        self.fail = False

    def __call__(self) -> int:
        self.calls += 1
        self.clock.now += self.takes
        if self.fail:
            raise RuntimeError("database gone")
        return self.calls


def make(*, max_age: float, takes: float = 0.0) -> tuple[Snapshot[int], Counting, Clock, Deferred]:
    clock, spawn = Clock(), Deferred()
    compute = Counting(clock, takes=takes)
    return Snapshot(compute, max_age=max_age, clock=clock, spawn=spawn), compute, clock, spawn


def test_the_first_reader_computes_and_later_ones_are_answered_from_memory() -> None:
    snapshot, compute, clock, _ = make(max_age=10)
    first = snapshot.get()
    clock.now += 5
    assert snapshot.get() is first
    assert (first.value, first.at, compute.calls) == (1, 1000.0, 1)


def test_a_stale_value_is_served_while_one_refresh_runs_behind_it() -> None:
    snapshot, compute, clock, spawn = make(max_age=10)
    snapshot.get()
    clock.now += 10
    assert snapshot.get().value == 1  # stale, answered at once
    assert snapshot.get().value == 1
    assert len(spawn.pending) == 1  # one refresh however many readers saw it stale
    spawn.run()
    assert snapshot.get().value == 2
    assert compute.calls == 2


def test_refreshes_are_spaced_by_ten_times_their_duration_on_a_slow_database() -> None:
    snapshot, _, clock, spawn = make(max_age=10, takes=5)  # 5 s a scan: every 50 s
    snapshot.get()
    clock.now += 30
    snapshot.get()
    assert spawn.pending == []
    clock.now += 20
    snapshot.get()
    assert len(spawn.pending) == 1


def test_a_failed_refresh_keeps_the_old_value_and_is_retried_after_the_spacing() -> None:
    snapshot, compute, clock, spawn = make(max_age=10)
    snapshot.get()
    compute.fail = True
    clock.now += 10
    snapshot.get()
    spawn.run()
    assert snapshot.get().value == 1
    assert spawn.pending == []  # not retried by every reader at once
    compute.fail = False
    clock.now += 10
    snapshot.get()
    spawn.run()
    assert snapshot.get().value == 3


def test_max_age_zero_computes_on_every_read() -> None:
    snapshot, _, _, spawn = make(max_age=0)
    assert [snapshot.get().value for _ in range(3)] == [1, 2, 3]
    assert spawn.pending == []


def test_concurrent_first_readers_share_one_computation() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def slow() -> int:
        calls.append(1)
        started.set()
        release.wait(5)
        return 7

    snapshot = Snapshot(slow, max_age=10)
    results: list[int] = []
    readers = [
        threading.Thread(target=lambda: results.append(snapshot.get().value)) for _ in range(4)
    ]
    for reader in readers:
        reader.start()
    assert started.wait(5)
    release.set()
    for reader in readers:
        reader.join(5)
    assert results == [7, 7, 7, 7]
    assert len(calls) == 1


def test_duty_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="duty"):
        Snapshot(lambda: 1, max_age=1, duty=0)
