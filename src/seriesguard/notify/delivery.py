"""Delivery of alerts to a remote channel without ever holding up the caller.

``notify`` checks the cooldown and puts the alert on a bounded queue: no network, no raise.
One thread per channel takes alerts off the queue and posts them, retrying a failure with
backoff (1, 2, 4 s ...) up to ``retries`` more times. A queue that is full (the endpoint dead
for long while alerts keep coming) drops the new alert and counts it: the log notifier has
logged it anyway.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx

from seriesguard.notify.base import Alert

log = logging.getLogger(__name__)
MAX_QUEUED = 1000
MAX_BACKOFF_SECONDS = 60.0
_STOP = object()
Outcome = Callable[[Alert, str, str], None]  # (alert, channel, outcome) -> alerts_sent_total


class DeliveryFailed(Exception):
    """One attempt failed; ``retryable`` False when another try cannot help (a 4xx)."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class Channel(Protocol):
    name: str  # the ``channel`` label: webhook, pagerduty

    def wants(self, alert: Alert) -> bool:
        """False for alerts this channel does not take (PagerDuty: below error)."""
        ...

    def send(self, alert: Alert, client: httpx.Client) -> None:
        """Post the alert once; raises DeliveryFailed."""
        ...


def post_json(client: httpx.Client, url: str, body: dict[str, Any]) -> None:
    """POST ``body``; DeliveryFailed on a transport error or a non-2xx answer. Messages name
    no URL: the webhook's URL is a secret."""
    # default=str: a detail a sender left as a numpy integer or a datetime still goes out
    content = json.dumps(body, default=str).encode()
    try:
        response = client.post(url, content=content, headers={"content-type": "application/json"})
    except httpx.HTTPError as exc:
        raise DeliveryFailed(f"{type(exc).__name__}") from None
    if response.is_success:
        return
    # 429 and 5xx may pass on a retry; any other 4xx is our request's fault and will not.
    retryable = response.status_code == 429 or response.status_code >= 500
    raise DeliveryFailed(f"HTTP {response.status_code}", retryable=retryable)


class DeliveringNotifier:
    """A :class:`~seriesguard.notify.base.Notifier` over one channel."""

    def __init__(
        self,
        channel: Channel,
        *,
        timeout_seconds: float,
        retries: int,
        cooldown_seconds: float,
        backoff_seconds: float = 1.0,
        outcome: Outcome | None = None,
        max_queued: int = MAX_QUEUED,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.channel = channel
        self._retries = retries
        self._cooldown = cooldown_seconds
        self._backoff = backoff_seconds
        self._outcome = outcome
        self._clock = clock
        self._last_sent: dict[str, float] = {}  # alert key -> when it was last queued
        self._lock = threading.Lock()
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_queued)
        self._closing = threading.Event()
        self._client = httpx.Client(timeout=timeout_seconds)
        self._thread = threading.Thread(
            target=self._run, name=f"alerts-{channel.name}", daemon=True
        )
        self._thread.start()

    def notify(self, alert: Alert) -> None:
        try:
            if self._closing.is_set() or not self.channel.wants(alert):
                return
            if not self._cooled_down(alert):
                self._report(alert, "suppressed")
                return
            self._queue.put_nowait(alert)
        except queue.Full:
            log.warning("alert queue of %s full; alert %s dropped", self.channel.name, alert.kind)
            self._report(alert, "dropped")
        except Exception:  # notify never raises
            log.exception("could not queue alert %s for %s", alert.kind, self.channel.name)

    def _cooled_down(self, alert: Alert) -> bool:
        """True (and the key's clock restarted) unless the same key went out within the
        cooldown; a repeat inside it is suppressed."""
        now = self._clock()
        with self._lock:
            last = self._last_sent.get(alert.key)
            if last is not None and now - last < self._cooldown:
                return False
            self._last_sent[alert.key] = now
            if len(self._last_sent) > 100_000:  # keys of long-gone conditions
                self._forget_before(now - self._cooldown)
            return True

    def _forget_before(self, cutoff: float) -> None:
        self._last_sent = {k: t for k, t in self._last_sent.items() if t >= cutoff}

    def close(self, *, timeout: float = 5.0) -> None:
        """Deliver what is queued within ``timeout`` (retries no longer wait), then stop."""
        if self._closing.is_set():
            return
        self._closing.set()
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full):  # full: the daemon thread dies with the process
            self._queue.put(_STOP, timeout=timeout)
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.warning("alerts to %s still undelivered at shutdown", self.channel.name)
        self._client.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            assert isinstance(item, Alert)
            self._deliver(item)

    def _deliver(self, alert: Alert) -> None:
        for attempt in range(self._retries + 1):
            try:
                self.channel.send(alert, self._client)
            except DeliveryFailed as exc:
                last_try = attempt == self._retries or not exc.retryable
                log.warning(
                    "alert %s to %s failed (%s)%s",
                    alert.kind,
                    self.channel.name,
                    exc,
                    "; giving up" if last_try else f"; try {attempt + 2} follows",
                )
                if last_try:
                    self._report(alert, "failed")
                    return
                # A closing notifier no longer waits between tries: the grace is short.
                self._closing.wait(min(self._backoff * 2**attempt, MAX_BACKOFF_SECONDS))
            except Exception:
                log.exception("alert %s to %s failed", alert.kind, self.channel.name)
                self._report(alert, "failed")
                return
            else:
                self._report(alert, "sent")
                return

    def _report(self, alert: Alert, outcome: str) -> None:
        if self._outcome is not None:
            try:
                self._outcome(alert, self.channel.name, outcome)
            except Exception:
                log.exception("alert outcome could not be counted")
