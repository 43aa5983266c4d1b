"""An incoming webhook that speaks Slack's message format.

Slack reads ``text`` (the notification's fallback) and ``blocks`` (the message); any other
receiver (Teams via a workflow, Mattermost, a home-grown hook) parses the top-level
``seriesguard`` object, which carries the alert as data.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx

from seriesguard.notify.base import Alert, Severity
from seriesguard.notify.delivery import post_json

_EMOJI = {
    Severity.INFO: ":information_source:",
    Severity.WARNING: ":warning:",
    Severity.ERROR: ":rotating_light:",
    Severity.CRITICAL: ":fire:",
}
SECTION_LIMIT = 3000  # characters of a section block's text, Slack's limit
MAX_FIELDS = 10  # fields of a section block, Slack's limit


def _escape(text: str) -> str:
    """Slack reads &, < and > as markup (``<!channel>`` pings a whole channel)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def webhook_body(alert: Alert) -> dict[str, Any]:
    """The JSON posted for one alert."""
    where = f" `{_escape(alert.series_id)}`" if alert.series_id else ""
    headline = f"{_EMOJI[alert.severity]} *{alert.severity.value.upper()}* {alert.kind}{where}"
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": _cut(f"{headline}\n{_escape(alert.summary)}", SECTION_LIMIT),
            },
        }
    ]
    fields = [
        {"type": "mrkdwn", "text": _cut(f"*{_escape(str(k))}*\n{_escape(str(v))}", 2000)}
        for k, v in list(alert.details.items())[:MAX_FIELDS]
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append(
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"seriesguard · {iso(alert.at)}"}],
        }
    )
    return {
        "text": _cut(
            f"[{alert.severity.value}] {alert.kind}"
            f"{' ' + alert.series_id if alert.series_id else ''}: {alert.summary}",
            SECTION_LIMIT,
        ),
        "blocks": blocks,
        "seriesguard": {
            "kind": alert.kind,
            "severity": alert.severity.value,
            "summary": alert.summary,
            "series_id": alert.series_id,
            "details": dict(alert.details),
            "dedup_key": alert.key,
            "at": iso(alert.at),
        },
    }


class WebhookChannel:
    name = "webhook"

    def __init__(self, url: str) -> None:
        self._url = url

    def wants(self, alert: Alert) -> bool:
        return True

    def send(self, alert: Alert, client: httpx.Client) -> None:
        post_json(client, self._url, webhook_body(alert))
