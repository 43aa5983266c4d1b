"""A figure that costs a scan of the fleet, kept in memory and refreshed behind its readers.

The fleet overview's aggregates (series and versions by stage, the window's predictions and
anomalies) read every row of their tables: about a second on PostgreSQL and over ten on SQLite
at 285,000 series. Every open dashboard asks for them every few seconds; recomputing them per
request would put one scan per viewer per poll on the database and keep every page waiting for
it. A :class:`Snapshot` answers from memory; once its value is older than ``max_age`` the
next reader starts one refresh in the background and is answered the value it has (stale by at
most one refresh), so no reader waits for a scan but the very first. A refresh is also spaced
by ``1 / duty`` times its own last duration, so a slow database spends at most that share of
one thread on it, however many are watching. Nobody watching: nothing is computed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)

Spawn = Callable[[Callable[[], None]], None]


@dataclass(frozen=True)
class Computed(Generic[T]):
    value: T
    at: float  # clock time the computation started: what the value describes
    seconds: float  # how long it took


def _thread(target: Callable[[], None]) -> None:
    threading.Thread(target=target, name="snapshot-refresh", daemon=True).start()


class Snapshot(Generic[T]):
    def __init__(
        self,
        compute: Callable[[], T],
        *,
        max_age: float,
        duty: float = 0.1,
        clock: Callable[[], float] = time.time,
        spawn: Spawn = _thread,
    ) -> None:
        """``max_age`` <= 0: no memory at all, every :meth:`get` computes."""
        if not 0 < duty <= 1:
            raise ValueError("duty must be in (0, 1]")
        self._compute = compute
        self._max_age = max_age
        self._duty = duty
        self._clock = clock
        self._spawn = spawn
        self._lock = threading.Lock()  # guards the fields below; never held while computing
        self._first = threading.Lock()  # one first computation, however many readers wait
        self._current: Computed[T] | None = None
        self._refreshing = False
        self._last_attempt = 0.0

    def get(self) -> Computed[T]:
        if self._max_age <= 0:
            return self._run()
        with self._lock:
            current = self._current
            if current is not None:
                if not self._refreshing and self._due(current):
                    self._refreshing = True
                    self._last_attempt = self._clock()
                    self._spawn(self._refresh)
                return current
        with self._first:
            with self._lock:
                if self._current is not None:  # computed while this reader waited
                    return self._current
            computed = self._run()
            with self._lock:
                self._current = computed
            return computed

    def _due(self, current: Computed[T]) -> bool:
        spacing = max(self._max_age, current.seconds / self._duty)
        newest = max(current.at, self._last_attempt)  # a failed refresh waits its turn too
        return self._clock() - newest >= spacing

    def _run(self) -> Computed[T]:
        started = self._clock()
        value = self._compute()
        return Computed(value, started, max(0.0, self._clock() - started))

    def _refresh(self) -> None:
        try:
            computed = self._run()
        except Exception:  # the old value stays; the next reader after the spacing retries
            log.exception("refreshing a snapshot failed; serving the previous value")
            with self._lock:
                self._refreshing = False
            return
        with self._lock:
            self._current = computed
            self._refreshing = False
