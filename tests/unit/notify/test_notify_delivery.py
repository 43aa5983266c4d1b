"""The queue in front of a channel: retries, cooldown, a full queue, close."""

from __future__ import annotations

import threading

import httpx

from seriesguard.notify.base import Alert, Severity
from seriesguard.notify.delivery import DeliveringNotifier, DeliveryFailed


class FakeChannel:
    """Fails the first ``failures`` sends (retryable or not); can be made to hang."""

    name = "fake"

    def __init__(self, *, failures: int = 0, retryable: bool = True) -> None:
        self.failures = failures
        self.retryable = retryable
        self.attempts: list[str] = []
        self.sent: list[str] = []
        self.gate = threading.Event()
        self.gate.set()

    def wants(self, alert: Alert) -> bool:
        return alert.severity is not Severity.INFO

    def send(self, alert: Alert, client: httpx.Client) -> None:
        self.gate.wait(10)
        self.attempts.append(alert.summary)
        if self.failures > 0:
            self.failures -= 1
            raise DeliveryFailed("HTTP 500", retryable=self.retryable)
        self.sent.append(alert.summary)


class Outcomes:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, alert: Alert, channel: str, outcome: str) -> None:
        self.seen.append((alert.kind, channel, outcome))


def notifier(channel: FakeChannel, outcomes: Outcomes, **kw: object) -> DeliveringNotifier:
    options: dict[str, object] = {
        "timeout_seconds": 1.0,
        "retries": 2,
        "cooldown_seconds": 0.0,
        "backoff_seconds": 0.001,
    }
    options.update(kw)
    return DeliveringNotifier(channel, outcome=outcomes, **options)  # type: ignore[arg-type]


def alert(summary: str, *, key: str | None = None, severity: Severity = Severity.ERROR) -> Alert:
    return Alert("drift", severity, summary, dedup_key=key)


def test_a_failed_send_is_retried_until_it_passes() -> None:
    channel, outcomes = FakeChannel(failures=2), Outcomes()
    sender = notifier(channel, outcomes)
    sender.notify(alert("a"))
    sender.close(timeout=5)
    assert channel.attempts == ["a", "a", "a"] and channel.sent == ["a"]
    assert outcomes.seen == [("drift", "fake", "sent")]


def test_retries_run_out_and_a_4xx_is_not_retried() -> None:
    channel, outcomes = FakeChannel(failures=10), Outcomes()
    sender = notifier(channel, outcomes, retries=1)
    sender.notify(alert("a"))
    sender.close(timeout=5)
    assert channel.attempts == ["a", "a"]
    permanent, outcomes_4xx = FakeChannel(failures=10, retryable=False), Outcomes()
    sender = notifier(permanent, outcomes_4xx, retries=5)
    sender.notify(alert("b"))
    sender.close(timeout=5)
    assert permanent.attempts == ["b"]
    assert outcomes.seen == outcomes_4xx.seen == [("drift", "fake", "failed")]


def test_repeats_within_the_cooldown_are_suppressed_and_counted() -> None:
    now = [1000.0]
    channel, outcomes = FakeChannel(), Outcomes()
    sender = notifier(channel, outcomes, cooldown_seconds=60.0, clock=lambda: now[0])
    sender.notify(alert("first", key="k"))
    sender.notify(alert("repeat", key="k"))
    sender.notify(alert("other key", key="j"))
    now[0] += 61
    sender.notify(alert("after the cooldown", key="k"))
    sender.close(timeout=5)
    assert channel.sent == ["first", "other key", "after the cooldown"]
    assert outcomes.seen.count(("drift", "fake", "suppressed")) == 1


def test_notify_never_blocks_and_a_full_queue_drops_the_new_alert() -> None:
    channel, outcomes = FakeChannel(), Outcomes()
    channel.gate.clear()  # the endpoint hangs
    sender = notifier(channel, outcomes, max_queued=2)
    for i in range(5):  # one in the thread's hands, two queued, two dropped
        sender.notify(alert(f"a{i}"))
    assert outcomes.seen.count(("drift", "fake", "dropped")) >= 2
    channel.gate.set()
    sender.close(timeout=5)
    assert 1 <= len(channel.sent) <= 3


def test_alerts_the_channel_does_not_take_are_skipped_and_close_is_idempotent() -> None:
    channel, outcomes = FakeChannel(), Outcomes()
    sender = notifier(channel, outcomes)
    sender.notify(alert("info", severity=Severity.INFO))
    sender.close(timeout=5)
    sender.close(timeout=5)
    sender.notify(alert("after close"))
    assert channel.attempts == [] and outcomes.seen == []
