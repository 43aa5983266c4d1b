"""Alerts over real HTTP to a receiver in the test: the webhook's and PagerDuty's bodies,
a retry after a 500, the cooldown, and an endpoint that is down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.services import free_port
from tests.webhook_receiver import WebhookReceiver

from seriesguard.notify.base import Alert, Notifier, Severity
from seriesguard.notify.factory import create_notifier
from seriesguard.observability.metrics import Metrics
from seriesguard.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture()
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def notifier_for(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    metrics: Metrics,
    **alert_settings: object,
) -> Notifier:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    settings = Settings(home=tmp_path, alert_timeout_seconds=2.0, **alert_settings)  # type: ignore[arg-type]
    return create_notifier(settings, metrics=metrics, backoff_seconds=0.01)


def test_both_channels_receive_their_bodies(
    receiver: WebhookReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = Metrics()
    notifier = notifier_for(
        tmp_path,
        monkeypatch,
        metrics,
        alert_webhook_url=f"{receiver.url}/hooks/T000/B000",
        alert_pagerduty_routing_key="routing-key-0123456789abcdef0123",
        alert_pagerduty_url=f"{receiver.url}/v2/enqueue",
    )
    notifier.notify(
        Alert(
            "rollback",
            Severity.ERROR,
            "canary v4 rolled back",
            series_id="s1",
            details={"version": 4},
        )
    )
    notifier.notify(Alert("drift", Severity.WARNING, "psi 0.31", series_id="s2"))
    hook = receiver.wait_for(lambda b: b.get("seriesguard", {}).get("kind") == "rollback")
    page = receiver.wait_for(lambda b: "routing_key" in b)
    receiver.wait_for(lambda b: b.get("seriesguard", {}).get("kind") == "drift")
    notifier.close(timeout=5)
    assert hook["text"] == "[error] rollback s1: canary v4 rolled back"
    assert hook["seriesguard"]["details"] == {"version": 4}
    assert page["routing_key"] == "routing-key-0123456789abcdef0123"
    assert page["event_action"] == "trigger" and page["dedup_key"] == "rollback:s1"
    assert page["payload"]["severity"] == "error" and page["payload"]["component"] == "s1"
    # a warning goes to the webhook only: PagerDuty pages errors and worse
    assert sorted(receiver.paths) == ["/hooks/T000/B000", "/hooks/T000/B000", "/v2/enqueue"]
    assert metrics.alerts_sent.value("rollback", "pagerduty", "sent") == 1
    assert metrics.alerts_sent.value("drift", "webhook", "sent") == 1


def test_a_500_is_retried_and_repeats_are_held_back_by_the_cooldown(
    receiver: WebhookReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = Metrics()
    notifier = notifier_for(
        tmp_path,
        monkeypatch,
        metrics,
        alert_webhook_url=receiver.url,
        alert_retries=3,
        alert_cooldown_seconds=3600,
    )
    receiver.fail_next(2)
    backlog = Alert("queue_backlog", Severity.CRITICAL, "1500 queued", dedup_key="backlog")
    notifier.notify(backlog)
    notifier.notify(backlog)  # the same condition again: suppressed
    notifier.close(timeout=10)
    assert receiver.attempts == 3 and len(receiver.received) == 1
    assert metrics.alerts_sent.value("queue_backlog", "webhook", "sent") == 1
    assert metrics.alerts_sent.value("queue_backlog", "webhook", "suppressed") == 1


def test_a_dead_endpoint_does_not_hold_up_notify(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = Metrics()
    notifier = notifier_for(
        tmp_path,
        monkeypatch,
        metrics,
        alert_webhook_url=f"http://127.0.0.1:{free_port()}/nobody",
        alert_retries=1,
        alert_cooldown_seconds=0,
    )
    for i in range(20):
        notifier.notify(Alert("drift", Severity.WARNING, f"drift {i}", series_id=f"s{i}"))
    notifier.close(timeout=10)
    failed = metrics.alerts_sent.value("drift", "webhook", "failed")
    assert failed == 20  # every alert tried (twice) and given up, none raised into the caller


def test_without_channels_only_the_log_is_there(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = notifier_for(tmp_path, monkeypatch, Metrics())
    notifier.notify(Alert("drift", Severity.WARNING, "psi 0.3", series_id="s1"))
    notifier.close(timeout=1)
    assert "alert drift [warning] series s1: psi 0.3" in caplog.text


def test_the_receiver_answers_like_the_real_services(receiver: WebhookReceiver) -> None:
    assert httpx.post(receiver.url + "/v2/enqueue", json={"a": 1}).status_code == 202
    assert httpx.post(receiver.url + "/hook", json={"b": 2}).text == "ok"
    receiver.fail_next(1, status=503)
    assert httpx.post(receiver.url + "/hook", json={"c": 3}).status_code == 503
    assert receiver.received == [{"a": 1}, {"b": 2}] and receiver.attempts == 3
    with pytest.raises(TimeoutError):
        receiver.wait_for(lambda b: "c" in b, timeout=0.05)
    assert receiver.wait_for(lambda b: "b" in b, timeout=5) == {"b": 2}
