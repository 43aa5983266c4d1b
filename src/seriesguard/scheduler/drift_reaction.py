"""The drift reaction (seed: drift DAG every 6 h): check the fleet, then retrain and alert.

Step 1 runs the fleet drift check (the code of ``seriesguard drift check --all``; its run and
findings are stored as usual). The next steps walk its findings by series, a batch per tick
paced like the weekly retraining: each drifted series (data or concept drift) gets a
retraining from history at ``drift_retrain_priority`` and an alert ``drift_detected``
(dedup key ``drift:<series>``, so the notifier's cooldown stops repeats), at most
``alert_max_per_run`` of them per run; the rest are counted and summed up in one summary
alert at the end, so a fleet-wide drift does not flood the channel.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import groupby
from typing import Any, Protocol

from seriesguard.core.catalog import ServingEntry
from seriesguard.core.detectors import DEFAULT_ALGORITHM
from seriesguard.core.errors import Unavailable
from seriesguard.core.monitoring import DriftFinding, DriftRun
from seriesguard.notify import Alert, Notifier, Severity
from seriesguard.scheduler.cron_task import Pacer, Step
from seriesguard.scheduler.retraining import HistoryTraining, Outcome, submit_retraining
from seriesguard.scheduler.runs import SchedulerRun

ALERT_KIND = "drift_detected"
SAMPLE = 20  # series named in the summary alert
# A series has a finding per kind (data, concept) and version in the window: read this many
# findings per series of a batch, so a batch ends on whole series.
FINDINGS_PER_SERIES = 4


class DriftCheck(Protocol):
    def run(self, *, window_hours: int, triggered_by: str) -> DriftRun: ...


class DriftFindings(Protocol):
    def findings(self, *, run_id: str, limit: int, offset: int = 0) -> list[DriftFinding]: ...


class ServingCatalog(Protocol):
    def serving_entry(self, series_id: str) -> ServingEntry | None: ...


class DriftReactionJob:
    """The step of a drift_check run (a :class:`~.cron_task.RecordedJob`)."""

    def __init__(
        self,
        *,
        check: DriftCheck,
        findings: DriftFindings,
        catalog: ServingCatalog,
        training: HistoryTraining,
        notifier: Notifier,
        pacer: Pacer,
        check_window_hours: int,
        retrain_window_hours: int,
        priority: int,
        batch_size: int,
        max_alerts: int,
    ) -> None:
        self._check = check
        self._findings = findings
        self._catalog = catalog
        self._training = training
        self._notifier = notifier
        self._pacer = pacer
        self._check_window = check_window_hours
        self._retrain_window = retrain_window_hours
        self._priority = priority
        self._batch_size = batch_size
        self._max_alerts = max_alerts

    def step(self, run: SchedulerRun) -> Step:
        if run.cursor is None:
            return self._run_check(run)
        cursor = json.loads(run.cursor)
        progress = dict(run.progress)
        allowed = self._pacer.take(self._batch_size)
        if allowed == 0:
            return Step(progress, run.cursor)
        limit = allowed * FINDINGS_PER_SERIES + 1
        found = self._findings.findings(
            run_id=cursor["drift_run"], limit=limit, offset=cursor["offset"]
        )
        at_end = len(found) < limit
        groups = [(series, list(items)) for series, items in groupby(found, lambda f: f.series_id)]
        if not at_end and len(groups) > 1:
            groups = groups[:-1]  # the last series may go on in the next page
        batch = groups[:allowed]
        self._pacer.give_back(allowed - len(batch))
        for series_id, series_findings in batch:
            try:
                self._react(series_id, series_findings, progress, drift_run=cursor["drift_run"])
            except Unavailable as exc:  # keep what this batch did; the series is retried
                progress["waiting"] = exc.message
                return Step(progress, json.dumps(cursor))
            cursor["offset"] += len(series_findings)
        progress.pop("waiting", None)
        done = at_end and len(batch) == len(groups)
        if done:
            self._summarise(progress, drift_run=cursor["drift_run"])
        return Step(progress, json.dumps(cursor), done=done)

    def _run_check(self, run: SchedulerRun) -> Step:
        checked = self._check.run(
            window_hours=self._check_window, triggered_by=f"scheduler run {run.id}"
        )
        progress: dict[str, Any] = {
            "drift_run_id": checked.id,
            "checked": checked.series_checked,
            "findings": checked.data_drifted + checked.concept_drifted,
            "data_drifted": checked.data_drifted,
            "concept_drifted": checked.concept_drifted,
            "drifted": 0,
            "retrained": 0,
            Outcome.RATE_LIMITED.value: 0,
            Outcome.NO_HISTORY.value: 0,
            Outcome.FAILED.value: 0,
            "alerts": 0,
            "alerts_held_back": 0,
            "held_back_sample": [],
        }
        cursor = {"drift_run": checked.id, "offset": 0}
        done = progress["findings"] == 0
        return Step(progress, json.dumps(cursor), done=done)

    def _react(
        self,
        series_id: str,
        findings: Sequence[DriftFinding],
        progress: dict[str, Any],
        *,
        drift_run: str,
    ) -> None:
        progress["drifted"] += 1
        entry = self._catalog.serving_entry(series_id)
        submission = submit_retraining(
            self._training,
            series_id=series_id,
            window_hours=self._retrain_window,
            algorithm=entry.algorithm if entry else DEFAULT_ALGORITHM,
            params=entry.params if entry else None,
            priority=self._priority,
        )
        key = "retrained" if submission.outcome is Outcome.SUBMITTED else submission.outcome.value
        progress[key] += 1
        if progress["alerts"] >= self._max_alerts:
            progress["alerts_held_back"] += 1
            if len(progress["held_back_sample"]) < SAMPLE:
                progress["held_back_sample"].append(series_id)
            return
        kinds = sorted({f.kind for f in findings})
        self._notifier.notify(
            Alert(
                kind=ALERT_KIND,
                severity=Severity.WARNING,
                summary=f"{' and '.join(kinds)} drift on {series_id} "
                f"(v{findings[0].version}); retraining {submission.outcome.value}",
                series_id=series_id,
                details={
                    "drift_run_id": drift_run,
                    "kinds": kinds,
                    "version": findings[0].version,
                    "retraining": submission.outcome.value,
                    "job_id": submission.job_id,
                    "evidence": [
                        {
                            "kind": f.kind,
                            "statistic": f.statistic,
                            "threshold": f.threshold,
                            "sample_size": f.sample_size,
                        }
                        for f in findings
                    ],
                },
                dedup_key=f"drift:{series_id}",
            )
        )
        progress["alerts"] += 1

    def _summarise(self, progress: dict[str, Any], *, drift_run: str) -> None:
        held_back = int(progress.get("alerts_held_back", 0))
        if held_back == 0:
            return
        self._notifier.notify(
            Alert(
                kind=ALERT_KIND,
                severity=Severity.WARNING,
                summary=f"drift on {held_back} more series in drift check {drift_run} "
                f"({progress['drifted']} drifted in all; retraining submitted for "
                f"{progress['retrained']})",
                details={
                    "drift_run_id": drift_run,
                    "series_not_alerted": held_back,
                    "sample": list(progress.get("held_back_sample", [])),
                    "drifted": progress["drifted"],
                    "retrained": progress["retrained"],
                },
                dedup_key=f"drift_summary:{drift_run}",
            )
        )
        progress["alerts"] += 1
