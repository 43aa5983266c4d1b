"""What an alert is and what sends it.

``Notifier.notify`` is called from the scheduler and the promotion code in the middle of their
work: it must never raise and never wait on a network, so every real channel sits behind the
queue of ``seriesguard.notify.delivery``. The notifiers here are the in-process ones: a
recorder for tests and a logger that every deployment has, whatever else is configured.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

log = logging.getLogger(__name__)


class Severity(StrEnum):
    """PagerDuty's four severities; the webhook shows them, PagerDuty gets error and critical."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Alert:
    """One thing a person should know about.

    ``kind`` is a short stable name (``rollback``, ``drift``, ``shadow_rejected``,
    ``queue_backlog`` ...) that receivers can route on; ``dedup_key`` groups repeats of the
    same condition (a cooldown applies per key, and PagerDuty folds them into one incident);
    without it the key is ``kind`` plus ``series_id``.
    """

    kind: str
    severity: Severity
    summary: str
    series_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    dedup_key: str | None = None
    at: float = field(default_factory=time.time)  # epoch seconds when the condition was seen

    @property
    def key(self) -> str:
        """The cooldown / incident key: ``dedup_key`` or ``kind[:series_id]``."""
        if self.dedup_key:
            return self.dedup_key
        return f"{self.kind}:{self.series_id}" if self.series_id else self.kind


@runtime_checkable
class Notifier(Protocol):
    def notify(self, alert: Alert) -> None:
        """Hand the alert over; never raises, never blocks on the network."""
        ...

    def close(self, *, timeout: float = 5.0) -> None:
        """Deliver what is queued (waiting at most ``timeout`` seconds) and stop."""
        ...


class RecordingNotifier:
    """Keeps every alert in ``alerts`` (thread-safe): the notifier of unit tests."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._alerts: list[Alert] = []
        self.closed = False

    @property
    def alerts(self) -> list[Alert]:
        with self._cond:
            return list(self._alerts)

    def notify(self, alert: Alert) -> None:
        with self._cond:
            self._alerts.append(alert)
            self._cond.notify_all()

    def close(self, *, timeout: float = 5.0) -> None:
        self.closed = True

    def of_kind(self, kind: str) -> list[Alert]:
        return [alert for alert in self.alerts if alert.kind == kind]

    def clear(self) -> None:
        with self._cond:
            self._alerts.clear()

    def wait_for(self, predicate: Callable[[Alert], bool], *, timeout: float = 5.0) -> Alert:
        """The first recorded alert matching ``predicate``, waiting for it up to ``timeout``
        (for code that notifies from another thread); TimeoutError when none came."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for alert in self._alerts:
                    if predicate(alert):
                        return alert
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no matching alert was recorded")
                self._cond.wait(left)


_LOG_LEVELS = {
    Severity.INFO: logging.INFO,
    Severity.WARNING: logging.WARNING,
    Severity.ERROR: logging.ERROR,
    Severity.CRITICAL: logging.CRITICAL,
}


class LogNotifier:
    """Logs every alert: the channel that always exists, so an alert is never only in a
    queue that a crash could lose."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log

    def notify(self, alert: Alert) -> None:
        # A broken log handler must not break the caller.
        with contextlib.suppress(Exception):
            self._log.log(
                _LOG_LEVELS.get(alert.severity, logging.WARNING),
                "alert %s [%s]%s: %s",
                alert.kind,
                alert.severity.value,
                f" series {alert.series_id}" if alert.series_id else "",
                alert.summary,
                extra={"alert_kind": alert.kind, "alert_key": alert.key},
            )

    def close(self, *, timeout: float = 5.0) -> None:
        return None


class TeeNotifier:
    """Hands each alert to every notifier in turn (the log plus the configured channels)."""

    def __init__(self, notifiers: Sequence[Notifier]) -> None:
        self.notifiers = tuple(notifiers)

    def notify(self, alert: Alert) -> None:
        for notifier in self.notifiers:
            try:
                notifier.notify(alert)
            except Exception:  # notify never raises, whatever a channel does
                log.exception("notifier %s failed on alert %s", type(notifier).__name__, alert.kind)

    def close(self, *, timeout: float = 5.0) -> None:
        # The channels share the caller's budget: each gets what the previous ones left.
        deadline = time.monotonic() + timeout
        for notifier in self.notifiers:
            try:
                notifier.close(timeout=max(0.0, deadline - time.monotonic()))
            except Exception:
                log.exception("closing notifier %s failed", type(notifier).__name__)
