"""Alerts to people: a webhook (Slack-compatible) and PagerDuty, behind one small interface."""

from seriesguard.notify.base import (
    Alert,
    LogNotifier,
    Notifier,
    RecordingNotifier,
    Severity,
    TeeNotifier,
)

__all__ = ["Alert", "LogNotifier", "Notifier", "RecordingNotifier", "Severity", "TeeNotifier"]
