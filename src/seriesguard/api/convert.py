"""Domain objects -> response bodies."""

from __future__ import annotations

from datetime import UTC, datetime

from seriesguard.api.schemas import AuditEventOut, JobOut, SeriesOut, VersionOut
from seriesguard.core.audit import AuditEvent
from seriesguard.core.catalog import ModelVersion, SeriesSummary
from seriesguard.core.jobs import Job
from seriesguard.core.series import model_name, version_label


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def label(version: int | None) -> str | None:
    return None if version is None else version_label(version)


def job_out(job: Job) -> JobOut:
    return JobOut(
        job_id=job.id,
        series_id=job.series_id,
        status=job.status.value,
        priority=job.priority,
        algorithm=job.algorithm,
        hyperparameters=job.hyperparameters,
        training_points=job.n_points,
        created_at=iso(job.created_at) or "",
        updated_at=iso(job.updated_at) or "",
        started_at=iso(job.started_at),
        finished_at=iso(job.finished_at),
        attempts=job.attempts,
        model_version=label(job.model_version),
        mlflow_run_id=job.run_id,
        error=job.error,
        submitted_by=job.submitted_by,
        links={
            "self": f"/api/v1/training/jobs/{job.id}",
            "model": f"/api/v1/models/{job.series_id}",
        },
    )


def version_out(version: ModelVersion) -> VersionOut:
    return VersionOut(
        version=version_label(version.version),
        stage=version.stage.value,
        algorithm=version.algorithm,
        params=version.params,
        metrics=version.metrics,
        created_at=iso(version.created_at) or "",
        job_id=version.job_id,
        mlflow_run_id=version.run_id,
    )


def series_out(summary: SeriesSummary) -> SeriesOut:
    return SeriesOut(
        series_id=summary.series_id,
        registered_model=model_name(summary.series_id),
        production_version=label(summary.production_version),
        staging_version=label(summary.staging_version),
        latest_version=label(summary.latest_version),
        updated_at=iso(summary.updated_at) or "",
        canary_version=label(summary.canary_version),
        shadow_version=label(summary.shadow_version),
    )


def audit_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=event.id or 0,
        at=iso(event.at) or "",
        subject=event.subject,
        roles=list(event.roles),
        action=event.action.value,
        series_id=event.series_id,
        version=label(event.version),
        job_id=event.job_id,
        client=event.client,
        outcome=event.outcome,
        details=event.details,
    )
