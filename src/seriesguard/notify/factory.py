"""The notifier of a process, from the settings: always the log, plus each configured channel."""

from __future__ import annotations

from seriesguard.notify.base import Alert, LogNotifier, Notifier, TeeNotifier
from seriesguard.notify.delivery import Channel, DeliveringNotifier
from seriesguard.notify.pagerduty import PagerDutyChannel
from seriesguard.notify.webhook import WebhookChannel
from seriesguard.observability.metrics import Metrics
from seriesguard.settings import Settings


def create_notifier(
    settings: Settings, *, metrics: Metrics, backoff_seconds: float = 1.0
) -> Notifier:
    """Nothing configured: the log notifier alone (no thread, no HTTP client)."""
    channels: list[Channel] = []
    if settings.alert_webhook_url is not None:
        channels.append(WebhookChannel(settings.alert_webhook_url.get_secret_value()))
    if settings.alert_pagerduty_routing_key is not None:
        channels.append(
            PagerDutyChannel(
                url=settings.alert_pagerduty_url,
                routing_key=settings.alert_pagerduty_routing_key.get_secret_value(),
            )
        )

    def outcome(alert: Alert, channel: str, result: str) -> None:
        metrics.alerts_sent.inc(alert.kind, channel, result)

    delivering: list[Notifier] = [
        DeliveringNotifier(
            channel,
            timeout_seconds=settings.alert_timeout_seconds,
            retries=settings.alert_retries,
            cooldown_seconds=settings.alert_cooldown_seconds,
            backoff_seconds=backoff_seconds,
            outcome=outcome,
        )
        for channel in channels
    ]
    return TeeNotifier([LogNotifier(), *delivering])
