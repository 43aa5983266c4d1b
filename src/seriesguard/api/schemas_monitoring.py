"""Request and response bodies of the monitoring routes."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from seriesguard.core.monitoring import DriftFinding, DriftRun


class LabelIn(BaseModel):
    """Ground truth for one point: was it really an anomaly?"""

    model_config = ConfigDict(extra="forbid")

    timestamp: float | str = Field(description="The point's timestamp: epoch seconds or ISO-8601.")
    is_anomaly: StrictBool


class FeedbackAccepted(BaseModel):
    series_id: str
    accepted: int = Field(description="Labels stored (a label sent again replaces the first).")
    version: int | None = Field(
        description="Production version labels on unflagged points are charged to."
    )


class DriftRunOut(BaseModel):
    id: str
    status: str
    started_at: str
    finished_at: str | None
    window_hours: int
    series_checked: int
    data_drifted: int
    concept_drifted: int
    insufficient: int = Field(description="Judged versions with too few predictions for a verdict.")
    triggered_by: str


class DriftRunPage(BaseModel):
    items: list[DriftRunOut]


class FindingOut(BaseModel):
    series_id: str
    version: int
    kind: str = Field(description="data (PSI), concept (anomaly rate) or precision")
    statistic: float
    threshold: float
    sample_size: int
    details: dict[str, float | int | str | None]


class DriftRunDetail(BaseModel):
    run: DriftRunOut
    findings: list[FindingOut]
    limit: int
    offset: int


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def run_out(run: DriftRun) -> DriftRunOut:
    return DriftRunOut(
        id=run.id,
        status=run.status,
        started_at=_iso(run.started_at) or "",
        finished_at=_iso(run.finished_at),
        window_hours=run.window_seconds // 3600,
        series_checked=run.series_checked,
        data_drifted=run.data_drifted,
        concept_drifted=run.concept_drifted,
        insufficient=run.insufficient,
        triggered_by=run.triggered_by,
    )


def finding_out(finding: DriftFinding) -> FindingOut:
    return FindingOut(
        series_id=finding.series_id,
        version=finding.version,
        kind=finding.kind,
        statistic=finding.statistic,
        threshold=finding.threshold,
        sample_size=finding.sample_size,
        details=dict(finding.details),
    )
