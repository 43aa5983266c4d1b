"""Per-series metrics over a window (the seed's ``GET /models/{id}/metrics``) and ground truth.

Every predictor process writes its own hourly rows; the figures here are their sums, so any
number of pods answer as one. The drift verdicts judge the series' production version (or,
without one, the version that answered most in the window) against its training reference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from seriesguard.core import sketch
from seriesguard.core.drift import Verdict, anomaly_rate_change, data_drift, precision_drop
from seriesguard.core.errors import InvalidInput, NotFound
from seriesguard.core.monitoring import (
    SECONDS_PER_HOUR,
    LabelledPoint,
    ReferenceSummary,
    WindowStats,
    hour_of,
)
from seriesguard.core.quality import Confusion
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.feedback import FeedbackRepository
from seriesguard.store.stats import SeriesStatsRepository

MAX_FEEDBACK_POINTS = 100_000
PERCENTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class DriftPolicy:
    """Thresholds of the drift verdicts (settings ``drift_*``)."""

    psi_threshold: float = 0.2
    min_samples: int = 500
    alpha: float = 0.01
    min_rate_change: float = 0.2
    min_precision_drop: float = 0.1
    min_labelled: int = 30


class MonitoringService:
    def __init__(
        self,
        *,
        stats: SeriesStatsRepository,
        feedback: FeedbackRepository,
        catalog: CatalogRepository,
        policy: DriftPolicy,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stats = stats
        self._feedback = feedback
        self._catalog = catalog
        self.policy = policy
        self._clock = clock

    def series_metrics(self, *, series_id: str, window_seconds: int) -> dict[str, Any]:
        """Request rate, error rate, latency percentiles, anomaly rate, quality against
        ground truth and the drift verdicts of one series over the last ``window_seconds``."""
        now = self._clock()
        last_hour = hour_of(now)
        first_hour = last_hour - window_seconds // SECONDS_PER_HOUR + 1
        since = first_hour * SECONDS_PER_HOUR
        rows = self._stats.series_window(
            series_id=series_id, since_hour=first_hour, until_hour=last_hour
        )
        summary = self._catalog.get_series(series_id)
        if summary is None and not rows:
            raise NotFound(
                f"series {series_id!r} has no model and no predictions",
                rule="series_not_found",
                loc=("path", "series_id"),
            )
        quality = self._quality(series_id=series_id, since=since, until=now)
        versions = {row.version: row for row in rows}
        judged = _judged_version(summary.production_version if summary else None, rows)
        seconds = max(now - since, 1.0)
        document: dict[str, Any] = {
            "series_id": series_id,
            "window": _window_label(window_seconds),
            "window_start": _iso(since),
            "window_end": _iso(now),
            "production_version": summary.production_version if summary else None,
            **_figures(rows, seconds=seconds),
            "quality": sum(quality.values(), Confusion()).to_json(),
            "versions": [
                {
                    "version": row.version,
                    **_figures([row], seconds=seconds),
                    "quality": quality.get(row.version, Confusion()).to_json(),
                }
                for row in sorted(rows, key=lambda r: r.version)
            ],
        }
        document["drift_detection"] = self._drift(
            series_id=series_id,
            version=judged,
            window=None if judged is None else versions.get(judged),
            since=since,
            recent=quality,
        )
        return document

    def record_feedback(
        self, *, series_id: str, points: Sequence[LabelledPoint], submitted_by: str | None
    ) -> dict[str, Any]:
        """Keep ground truth for points of a series; a label sent again replaces the first.
        A label on a point the model did not flag is charged to the production version."""
        if not points:
            raise InvalidInput(
                "send at least one {timestamp, is_anomaly}", rule="empty_feedback", loc=("body",)
            )
        if len(points) > MAX_FEEDBACK_POINTS:
            raise InvalidInput(
                f"{len(points)} labels in one request; at most {MAX_FEEDBACK_POINTS}",
                rule="max_feedback_points",
                loc=("body",),
            )
        summary = self._catalog.get_series(series_id)
        if summary is None:
            raise NotFound(
                f"series {series_id!r} is not in the catalog: nothing to join ground truth to",
                rule="series_not_found",
                loc=("path", "series_id"),
            )
        stored = self._feedback.upsert(
            series_id=series_id,
            points=points,
            version=summary.production_version,
            submitted_by=submitted_by,
            now=self._clock(),
        )
        return {"series_id": series_id, "accepted": stored, "version": summary.production_version}

    def _quality(self, *, series_id: str, since: float, until: float) -> dict[int, Confusion]:
        """Confusion counts per version of the labelled points in [since, until]."""
        found: dict[int, Confusion] = {}
        for version, predicted, actual in self._feedback.joined(
            series_id=series_id, since=since, until=until
        ):
            one = Confusion(
                tp=int(predicted and actual),
                fp=int(predicted and not actual),
                fn=int(actual and not predicted),
                tn=int(not actual and not predicted),
            )
            found[version] = found.get(version, Confusion()) + one
        return found

    def _drift(
        self,
        *,
        series_id: str,
        version: int | None,
        window: WindowStats | None,
        since: float,
        recent: dict[int, Confusion],
    ) -> dict[str, Any]:
        policy = self.policy
        reference = self._reference(series_id, version)
        bins = window.bins if window else ()
        data = data_drift(
            reference, bins, threshold=policy.psi_threshold, min_samples=policy.min_samples
        )
        concept = self._concept(reference, window)
        precision = self._precision(
            series_id=series_id, version=version, since=since, recent=recent
        )
        return {
            "version": version,
            "data_drift_detected": data.detected is True,
            "concept_drift_detected": concept.detected is True or precision.detected is True,
            "anomaly_rate_drift_detected": concept.detected is True,
            "precision_drop_detected": precision.detected is True,
            "data_drift": {"test": "population_stability_index", **data.to_json()},
            "concept_drift": {"test": "two_proportion_z", **concept.to_json()},
            "precision_drop": {"test": "one_sided_two_proportion_z", **precision.to_json()},
            "reference": None
            if reference is None
            else {
                "n_points": reference.n_points,
                "anomaly_rate": reference.anomaly_rate,
                "bins": len(reference.counts),
            },
        }

    def _concept(self, reference: ReferenceSummary | None, window: WindowStats | None) -> Verdict:
        policy = self.policy
        answered = (window.requests - window.errors) if window else 0
        return anomaly_rate_change(
            baseline_rate=reference.anomaly_rate if reference else 0.0,
            baseline_n=reference.n_points if reference else 0,
            anomalies=window.anomalies if window else 0,
            n=answered,
            alpha=policy.alpha,
            min_change=policy.min_rate_change,
            min_samples=policy.min_samples,
        )

    def _precision(
        self, *, series_id: str, version: int | None, since: float, recent: dict[int, Confusion]
    ) -> Verdict:
        """Precision of the version's flags labelled in the window (``recent``, per version)
        against those labelled before it."""
        before = self._quality(series_id=series_id, since=0.0, until=since - 1e-6)
        old = before.get(version, Confusion()) if version is not None else Confusion()
        new = recent.get(version, Confusion()) if version is not None else Confusion()
        return precision_drop(
            baseline_tp=old.tp,
            baseline_fp=old.fp,
            tp=new.tp,
            fp=new.fp,
            alpha=self.policy.alpha,
            min_drop=self.policy.min_precision_drop,
            min_samples=self.policy.min_labelled,
        )

    def _reference(self, series_id: str, version: int | None) -> ReferenceSummary | None:
        if version is None:
            return None
        found = self._catalog.get_version(series_id=series_id, version=version)
        return found.reference if found else None


def _judged_version(production: int | None, rows: Sequence[WindowStats]) -> int | None:
    if production is not None:
        return production
    trained = [row for row in rows if row.version > 0]
    return max(trained, key=lambda r: r.requests).version if trained else None


def _figures(rows: Sequence[WindowStats], *, seconds: float) -> dict[str, Any]:
    requests = sum(row.requests for row in rows)
    errors = sum(row.errors for row in rows)
    anomalies = sum(row.anomalies for row in rows)
    answered = requests - errors
    latency = sketch.quantiles(sketch.merge_all(row.latency for row in rows), PERCENTILES)
    return {
        "requests": requests,
        "errors": errors,
        "anomalies": anomalies,
        "request_rate": requests / seconds,
        "error_rate": errors / requests if requests else 0.0,
        "anomaly_rate": anomalies / answered if answered else 0.0,
        "latency_ms": {
            f"p{round(q * 100)}": None if value is None else value * 1000.0
            for q, value in latency.items()
        },
    }


def _window_label(seconds: int) -> str:
    days, rest = divmod(seconds, 24 * SECONDS_PER_HOUR)
    return f"{days}d" if days and not rest else f"{seconds // SECONDS_PER_HOUR}h"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()
