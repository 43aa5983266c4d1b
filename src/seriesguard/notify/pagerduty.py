"""PagerDuty Events API v2: alerts of severity error and critical open (or fold into) an
incident; ``dedup_key`` folds repeats of the same condition into one incident."""

from __future__ import annotations

from typing import Any

import httpx

from seriesguard.notify.base import Alert, Severity
from seriesguard.notify.delivery import post_json
from seriesguard.notify.webhook import iso

PAGED = frozenset({Severity.ERROR, Severity.CRITICAL})
SUMMARY_LIMIT = 1024  # characters, PagerDuty's limit
DEDUP_LIMIT = 255


def pagerduty_body(alert: Alert, *, routing_key: str) -> dict[str, Any]:
    summary = alert.summary if not alert.series_id else f"{alert.series_id}: {alert.summary}"
    payload: dict[str, Any] = {
        "summary": summary[:SUMMARY_LIMIT],
        "source": "seriesguard",
        "severity": alert.severity.value,
        "timestamp": iso(alert.at),
        "class": alert.kind,
        "custom_details": {"kind": alert.kind, **dict(alert.details)},
    }
    if alert.series_id:
        payload["component"] = alert.series_id
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.key[:DEDUP_LIMIT],
        "payload": payload,
    }


class PagerDutyChannel:
    name = "pagerduty"

    def __init__(self, *, url: str, routing_key: str) -> None:
        self._url = url
        self._routing_key = routing_key

    def wants(self, alert: Alert) -> bool:
        return alert.severity in PAGED

    def send(self, alert: Alert, client: httpx.Client) -> None:
        post_json(client, self._url, pagerduty_body(alert, routing_key=self._routing_key))
