"""The fleet drift check: every series with predictions in the window, in one pass.

The DB sums each (series, version)'s hourly rows of every process (one grouped query per page
of 50,000 series); each page is judged in one numpy pass (PSI against the training histogram,
anomaly-rate z-test against the training baseline); the run and its findings are stored. Only
versions with a reference are judged: fallback answers and imported models without one have
nothing to drift from.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from seriesguard.core.drift import anomaly_rate_change_many, psi_many
from seriesguard.core.monitoring import (
    REFERENCE_BINS,
    SECONDS_PER_HOUR,
    DriftFinding,
    DriftRun,
    ReferenceSummary,
    WindowStats,
    hour_of,
)
from seriesguard.monitoring.service import DriftPolicy
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.drift import DriftRepository
from seriesguard.store.stats import SeriesStatsRepository

log = logging.getLogger(__name__)

PAGE_SERIES = 50_000
Progress = Callable[[int], None]  # series checked so far


@dataclass(frozen=True)
class PageVerdicts:
    findings: list[DriftFinding]
    judged: int
    data_drifted: int
    concept_drifted: int
    insufficient: int


class FleetDriftCheck:
    def __init__(
        self,
        *,
        stats: SeriesStatsRepository,
        catalog: CatalogRepository,
        runs: DriftRepository,
        policy: DriftPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stats = stats
        self._catalog = catalog
        self._runs = runs
        self._policy = policy
        self._clock = clock

    def run(
        self,
        *,
        window_hours: int,
        triggered_by: str,
        progress: Progress | None = None,
        page_series: int = PAGE_SERIES,
    ) -> DriftRun:
        """Check every series with predictions in the last ``window_hours``; the run is
        stored (status ``running`` while it goes, ``failed`` if it stops) and returned."""
        started = self._clock()
        run = DriftRun(
            id=str(uuid.uuid4()),
            started_at=started,
            finished_at=None,
            window_seconds=window_hours * SECONDS_PER_HOUR,
            series_checked=0,
            data_drifted=0,
            concept_drifted=0,
            insufficient=0,
            status="running",
            triggered_by=triggered_by,
        )
        self._runs.start(run)
        try:
            run = self._check(run, window_hours=window_hours, progress=progress, page=page_series)
        except Exception:
            self._finish(run, status="failed")
            raise
        return self._finish(run, status="succeeded")

    def _check(
        self, run: DriftRun, *, window_hours: int, progress: Progress | None, page: int
    ) -> DriftRun:
        last_hour = hour_of(run.started_at)
        first_hour = last_hour - window_hours + 1
        after = ""
        while True:
            rows = self._stats.fleet_window(
                since_hour=first_hour, until_hour=last_hour, after_series=after, limit=page
            )
            if not rows:
                return run
            references = self._catalog.references(first=rows[0].series_id, last=rows[-1].series_id)
            verdicts = judge_page(rows, references, self._policy)
            self._runs.add_findings(run_id=run.id, findings=verdicts.findings)
            run = replace(
                run,
                series_checked=run.series_checked + len({row.series_id for row in rows}),
                data_drifted=run.data_drifted + verdicts.data_drifted,
                concept_drifted=run.concept_drifted + verdicts.concept_drifted,
                insufficient=run.insufficient + verdicts.insufficient,
            )
            if progress is not None:
                progress(run.series_checked)
            after = rows[-1].series_id

    def _finish(self, run: DriftRun, *, status: str) -> DriftRun:
        finished = replace(run, finished_at=self._clock(), status=status)
        self._runs.finish(
            run_id=run.id,
            finished_at=finished.finished_at or 0.0,
            series_checked=run.series_checked,
            data_drifted=run.data_drifted,
            concept_drifted=run.concept_drifted,
            insufficient=run.insufficient,
            status=status,
        )
        log.info(
            "drift check %s %s: %d series, %d data drift, %d concept drift, %d without enough "
            "predictions",
            run.id,
            status,
            run.series_checked,
            run.data_drifted,
            run.concept_drifted,
            run.insufficient,
        )
        return finished


def judge_page(
    rows: Sequence[WindowStats],
    references: dict[tuple[str, int], ReferenceSummary],
    policy: DriftPolicy,
) -> PageVerdicts:
    """Both drift tests for every (series, version) of a page that has a reference."""
    judged = [
        (row, references[(row.series_id, row.version)])
        for row in rows
        if row.version > 0 and (row.series_id, row.version) in references
    ]
    if not judged:
        return PageVerdicts([], 0, 0, 0, 0)
    reference_counts = np.zeros((len(judged), REFERENCE_BINS), dtype=np.float64)
    valid = np.empty(len(judged), dtype=np.int64)
    for index, (_, reference) in enumerate(judged):
        reference_counts[index, : len(reference.counts)] = reference.counts
        valid[index] = len(reference.counts)
    current = np.array([row.bins for row, _ in judged], dtype=np.float64)
    binned = np.where(np.arange(REFERENCE_BINS) < valid[:, None], current, 0.0).sum(axis=1)
    psi = psi_many(reference_counts, current, valid)
    data = (binned >= max(policy.min_samples, 1)) & (psi > policy.psi_threshold)
    answered = np.array([row.requests - row.errors for row, _ in judged], dtype=np.float64)
    anomalies = np.array([row.anomalies for row, _ in judged], dtype=np.float64)
    baseline = np.array([ref.anomaly_rate for _, ref in judged], dtype=np.float64)
    baseline_n = np.array([ref.n_points for _, ref in judged], dtype=np.float64)
    z, p, concept = anomaly_rate_change_many(
        baseline,
        baseline_n,
        anomalies,
        answered,
        alpha=policy.alpha,
        min_change=policy.min_rate_change,
        min_samples=policy.min_samples,
    )
    findings = _findings(
        judged,
        psi=psi,
        data=data,
        binned=binned,
        z=z,
        p=p,
        concept=concept,
        answered=answered,
        anomalies=anomalies,
        policy=policy,
    )
    return PageVerdicts(
        findings=findings,
        judged=len(judged),
        data_drifted=int(data.sum()),
        concept_drifted=int(concept.sum()),
        insufficient=int((answered < policy.min_samples).sum()),
    )


def _findings(
    judged: list[tuple[WindowStats, ReferenceSummary]],
    *,
    psi: npt.NDArray[np.float64],
    data: npt.NDArray[np.bool_],
    binned: npt.NDArray[np.float64],
    z: npt.NDArray[np.float64],
    p: npt.NDArray[np.float64],
    concept: npt.NDArray[np.bool_],
    answered: npt.NDArray[np.float64],
    anomalies: npt.NDArray[np.float64],
    policy: DriftPolicy,
) -> list[DriftFinding]:
    """Findings only for what drifted: a check of a stable fleet stores nothing per series."""
    findings = []
    for index in np.flatnonzero(data).tolist():
        row, reference = judged[index]
        findings.append(
            DriftFinding(
                series_id=row.series_id,
                version=row.version,
                kind="data",
                statistic=float(psi[index]),
                threshold=policy.psi_threshold,
                sample_size=int(binned[index]),
                details={"reference_size": reference.n_points, "bins": len(reference.counts)},
            )
        )
    for index in np.flatnonzero(concept).tolist():
        row, reference = judged[index]
        n = float(answered[index])
        findings.append(
            DriftFinding(
                series_id=row.series_id,
                version=row.version,
                kind="concept",
                statistic=float(z[index]),
                threshold=policy.alpha,
                sample_size=int(n),
                details={
                    "p_value": float(p[index]),
                    "current_rate": float(anomalies[index]) / n if n else 0.0,
                    "baseline_rate": reference.anomaly_rate,
                    "reference_size": reference.n_points,
                },
            )
        )
    return findings
