"""The in-process notifiers: the recorder of tests, the log, and the tee over channels."""

from __future__ import annotations

import logging
import threading

import pytest

from seriesguard.notify.base import (
    Alert,
    LogNotifier,
    Notifier,
    RecordingNotifier,
    Severity,
    TeeNotifier,
)


def test_the_key_is_the_dedup_key_or_kind_and_series() -> None:
    assert Alert("drift", Severity.WARNING, "x", series_id="s1").key == "drift:s1"
    assert Alert("queue_backlog", Severity.ERROR, "x").key == "queue_backlog"
    assert Alert("drift", Severity.WARNING, "x", series_id="s1", dedup_key="k").key == "k"


def test_recording_notifier_keeps_alerts_and_waits_for_one() -> None:
    recorder = RecordingNotifier()
    assert isinstance(recorder, Notifier)
    recorder.notify(Alert("rollback", Severity.ERROR, "rolled back", series_id="s1"))
    later = threading.Timer(
        0.05, recorder.notify, args=(Alert("drift", Severity.WARNING, "drifted"),)
    )
    later.start()
    found = recorder.wait_for(lambda a: a.kind == "drift", timeout=5)
    later.join()
    assert found.summary == "drifted"
    assert [a.kind for a in recorder.alerts] == ["rollback", "drift"]
    assert [a.series_id for a in recorder.of_kind("rollback")] == ["s1"]
    with pytest.raises(TimeoutError):
        recorder.wait_for(lambda a: a.kind == "never", timeout=0.01)
    recorder.close()
    assert recorder.closed


def test_log_notifier_logs_at_the_alerts_severity(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.alerts")
    with caplog.at_level(logging.INFO, logger="test.alerts"):
        LogNotifier(logger).notify(Alert("drift", Severity.WARNING, "psi 0.4", series_id="s9"))
        LogNotifier(logger).notify(Alert("rollback", Severity.CRITICAL, "gone"))
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.WARNING, "alert drift [warning] series s9: psi 0.4"),
        (logging.CRITICAL, "alert rollback [critical]: gone"),
    ]


class _Broken:
    def notify(self, alert: Alert) -> None:
        raise RuntimeError("channel bug")

    def close(self, *, timeout: float = 5.0) -> None:
        raise RuntimeError("close bug")


def test_tee_hands_every_alert_to_each_and_never_raises() -> None:
    first, last = RecordingNotifier(), RecordingNotifier()
    tee = TeeNotifier([first, _Broken(), last])
    tee.notify(Alert("drift", Severity.INFO, "x"))
    tee.close(timeout=1)
    assert len(first.alerts) == len(last.alerts) == 1
    assert first.closed and last.closed
