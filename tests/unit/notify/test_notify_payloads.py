"""What the webhook (Slack-compatible) and PagerDuty Events v2 receive for an alert."""

from __future__ import annotations

from seriesguard.notify.base import Alert, Severity
from seriesguard.notify.pagerduty import PagerDutyChannel, pagerduty_body
from seriesguard.notify.webhook import webhook_body

AT = 1_800_000_000.0  # 2027-01-15T08:00:00+00:00


def test_webhook_body_is_slack_text_and_blocks_plus_the_alert_as_data() -> None:
    alert = Alert(
        "rollback",
        Severity.ERROR,
        "canary v3 failed <p99> & was rolled back",
        series_id="pump-7:x",
        details={"version": 3, "p99_ms": 180.5},
        at=AT,
    )
    body = webhook_body(alert)
    assert body["text"].startswith("[error] rollback pump-7:x: canary v3")
    section = body["blocks"][0]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    # Slack's markup characters are escaped: no accidental <!channel> or link
    assert "&lt;p99&gt; &amp; was" in section["text"]["text"]
    fields = body["blocks"][1]["fields"]
    assert [f["text"] for f in fields] == ["*version*\n3", "*p99_ms*\n180.5"]
    assert body["seriesguard"] == {
        "kind": "rollback",
        "severity": "error",
        "summary": "canary v3 failed <p99> & was rolled back",
        "series_id": "pump-7:x",
        "details": {"version": 3, "p99_ms": 180.5},
        "dedup_key": "rollback:pump-7:x",
        "at": "2027-01-15T08:00:00+00:00",
    }


def test_webhook_body_stays_within_slacks_limits() -> None:
    alert = Alert("drift", Severity.INFO, "y" * 5000, details={f"k{i}": i for i in range(20)})
    body = webhook_body(alert)
    assert len(body["blocks"][0]["text"]["text"]) <= 3000
    assert len(body["blocks"][1]["fields"]) == 10
    assert len(body["text"]) <= 3000


def test_pagerduty_body_is_an_events_v2_trigger() -> None:
    alert = Alert(
        "queue_backlog",
        Severity.CRITICAL,
        "x" * 2000,
        details={"queued": 1500},
        dedup_key="backlog",
        at=AT,
    )
    body = pagerduty_body(alert, routing_key="R" * 32)
    assert body["routing_key"] == "R" * 32
    assert body["event_action"] == "trigger"
    assert body["dedup_key"] == "backlog"
    payload = body["payload"]
    assert len(payload["summary"]) == 1024
    assert payload["source"] == "seriesguard"
    assert payload["severity"] == "critical"
    assert payload["timestamp"] == "2027-01-15T08:00:00+00:00"
    assert payload["custom_details"] == {"kind": "queue_backlog", "queued": 1500}
    assert "component" not in payload  # no series: no component


def test_pagerduty_names_the_series_and_pages_only_errors() -> None:
    alert = Alert("rollback", Severity.ERROR, "rolled back", series_id="s1")
    payload = pagerduty_body(alert, routing_key="k")["payload"]
    assert payload["component"] == "s1" and payload["summary"] == "s1: rolled back"
    channel = PagerDutyChannel(url="http://unused", routing_key="k")
    wanted = {s: channel.wants(Alert("x", s, "y")) for s in Severity}
    assert wanted == {
        Severity.INFO: False,
        Severity.WARNING: False,
        Severity.ERROR: True,
        Severity.CRITICAL: True,
    }
