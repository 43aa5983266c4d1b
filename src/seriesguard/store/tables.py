"""Table definitions. Portable types only: the same migrations serve SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class JobRow(Base):
    __tablename__ = "training_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    series_id: Mapped[str] = mapped_column(String(128), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False)
    algorithm: Mapped[str] = mapped_column(String(64), nullable=False)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    n_points: Mapped[int] = mapped_column(Integer, nullable=False)
    data_path: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[float] = mapped_column(Double, nullable=False)
    updated_at: Mapped[float] = mapped_column(Double, nullable=False)
    started_at: Mapped[float | None] = mapped_column(Double)
    finished_at: Mapped[float | None] = mapped_column(Double)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    model_version: Mapped[int | None] = mapped_column(Integer)
    run_id: Mapped[str | None] = mapped_column(String(64))
    window_start: Mapped[float | None] = mapped_column(Double)
    window_end: Mapped[float | None] = mapped_column(Double)
    submitted_by: Mapped[str | None] = mapped_column(String(256))  # token subject; None = no auth

    __table_args__ = (
        Index("ix_training_jobs_series_created", "series_id", "created_at"),
        Index("ix_training_jobs_status_priority", "status", "priority", "created_at"),
    )


class SeriesRow(Base):
    """The serving catalog: one row per series, bumped ``revision`` on every change."""

    __tablename__ = "series"

    series_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    production_version: Mapped[int | None] = mapped_column(Integer)
    production_algorithm: Mapped[str | None] = mapped_column(String(64))
    production_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    staging_version: Mapped[int | None] = mapped_column(Integer)
    latest_version: Mapped[int | None] = mapped_column(Integer)
    stats_mean: Mapped[float | None] = mapped_column(Double)
    stats_std: Mapped[float | None] = mapped_column(Double)
    stats_points: Mapped[int | None] = mapped_column(Integer)
    # ReferenceSummary of the production version (drift checks; the predictor bins inputs)
    production_reference: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # A version in canary answers ``canary_percentage`` % of the series' requests; a version
    # in shadow is scored on every request and never answers. Set by the promotion service.
    canary_version: Mapped[int | None] = mapped_column(Integer)
    canary_percentage: Mapped[float | None] = mapped_column(Double)
    canary_algorithm: Mapped[str | None] = mapped_column(String(64))
    canary_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    canary_reference: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    shadow_version: Mapped[int | None] = mapped_column(Integer)
    shadow_algorithm: Mapped[str | None] = mapped_column(String(64))
    shadow_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    shadow_reference: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    revision: Mapped[int] = mapped_column(Integer, nullable=False, index=True)
    updated_at: Mapped[float] = mapped_column(Double, nullable=False)


class ModelVersionRow(Base):
    """Mirror of the registry's versions, so listing 285k series never asks MLflow."""

    __tablename__ = "model_versions"

    series_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), nullable=False)
    algorithm: Mapped[str] = mapped_column(String(64), nullable=False)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    metrics: Mapped[dict[str, float]] = mapped_column(JSON, nullable=False)
    job_id: Mapped[str | None] = mapped_column(String(36))
    run_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Double, nullable=False)
    # ReferenceSummary of the training window (core.monitoring); None for imported models
    reference: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditRow(Base):
    """Append-only audit log; ``id`` orders the events (keyset pagination walks it down)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Double, nullable=False, index=True)
    subject: Mapped[str] = mapped_column(String(256), nullable=False)
    roles: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    series_id: Mapped[str | None] = mapped_column(String(128))
    version: Mapped[int | None] = mapped_column(Integer)
    job_id: Mapped[str | None] = mapped_column(String(36))
    client: Mapped[str | None] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

    # Each filter is paired with the id, so "filter, newest first, before id N" reads one
    # index range on PostgreSQL too (SQLite would append the rowid by itself).
    __table_args__ = (
        Index("ix_audit_events_action_id", "action", "id"),
        Index("ix_audit_events_series_id_id", "series_id", "id"),
        Index("ix_audit_events_subject_id", "subject", "id"),
    )


# what the fleet drift check sums per series (REFERENCE_BINS = 10 bins)
_SERIES_STATS_SUMMED = ["requests", "errors", "anomalies", *(f"in_bin_{i}" for i in range(10))]


def _bin_column() -> Mapped[int]:
    return mapped_column(BigInteger, nullable=False, default=0, server_default="0")


class SeriesStatsRow(Base):
    """Cumulative counts of one predictor process (``source``) for one (series, version, hour).

    Each process rewrites only its own rows; readers add the rows of every source up. The
    reference bins are columns, not JSON, so the fleet drift check can SUM them in SQL."""

    __tablename__ = "series_stats"

    series_id: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)  # 0 = fallback answers
    hour: Mapped[int] = mapped_column(Integer)  # whole hours since epoch
    source: Mapped[str] = mapped_column(String(64))
    requests: Mapped[int] = mapped_column(BigInteger, nullable=False)
    errors: Mapped[int] = mapped_column(BigInteger, nullable=False)
    anomalies: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # sparse latency sketch: {"bucket index": count}
    latency: Mapped[dict[str, int]] = mapped_column(JSON, nullable=False)
    # shadow rows only: requests where the shadow and the answering version agreed
    agreements: Mapped[int] = mapped_column(
        BigInteger, nullable=False, default=0, server_default="0"
    )
    in_bin_0: Mapped[int] = _bin_column()
    in_bin_1: Mapped[int] = _bin_column()
    in_bin_2: Mapped[int] = _bin_column()
    in_bin_3: Mapped[int] = _bin_column()
    in_bin_4: Mapped[int] = _bin_column()
    in_bin_5: Mapped[int] = _bin_column()
    in_bin_6: Mapped[int] = _bin_column()
    in_bin_7: Mapped[int] = _bin_column()
    in_bin_8: Mapped[int] = _bin_column()
    in_bin_9: Mapped[int] = _bin_column()

    __table_args__ = (
        # On PostgreSQL the key carries the counts: a fleet read of a range of series is an
        # index-only scan in key order, however the rows lie in the heap.
        PrimaryKeyConstraint(
            "series_id", "version", "hour", "source", postgresql_include=_SERIES_STATS_SUMMED
        ),
        Index("ix_series_stats_hour", "hour"),
        # SQLite: the rows are stored in key order (no rowid), for the same range reads.
        {"sqlite_with_rowid": False},
    )


class FlaggedPredictionRow(Base):
    """A prediction that flagged an anomaly, kept so ground truth can be joined to it."""

    __tablename__ = "flagged_predictions"

    series_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    timestamp: Mapped[float] = mapped_column(Double, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    score: Mapped[float] = mapped_column(Double, nullable=False)
    predicted_at: Mapped[float] = mapped_column(Double, nullable=False)

    __table_args__ = (Index("ix_flagged_predictions_predicted_at", "predicted_at"),)


class FeedbackRow(Base):
    """Ground truth for one point; a label sent again replaces the earlier one."""

    __tablename__ = "feedback"

    series_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    timestamp: Mapped[float] = mapped_column(Double, primary_key=True)
    is_anomaly: Mapped[bool] = mapped_column(Boolean, nullable=False)
    # the series' production version when the label arrived: a label on a point no version
    # flagged is charged to it
    version: Mapped[int | None] = mapped_column(Integer)
    received_at: Mapped[float] = mapped_column(Double, nullable=False)
    submitted_by: Mapped[str | None] = mapped_column(String(256))

    __table_args__ = (Index("ix_feedback_received_at", "received_at"),)


class DriftRunRow(Base):
    """One pass of the fleet drift check."""

    __tablename__ = "drift_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    started_at: Mapped[float] = mapped_column(Double, nullable=False)
    finished_at: Mapped[float | None] = mapped_column(Double)
    window_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    series_checked: Mapped[int] = mapped_column(Integer, nullable=False)
    data_drifted: Mapped[int] = mapped_column(Integer, nullable=False)
    concept_drifted: Mapped[int] = mapped_column(Integer, nullable=False)
    insufficient: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    triggered_by: Mapped[str] = mapped_column(String(256), nullable=False)

    __table_args__ = (Index("ix_drift_runs_started_at", "started_at"),)


class DriftFindingRow(Base):
    """A drift verdict of one run for one series, with its evidence."""

    __tablename__ = "drift_findings"

    run_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    series_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    statistic: Mapped[float] = mapped_column(Double, nullable=False)
    threshold: Mapped[float] = mapped_column(Double, nullable=False)
    sample_size: Mapped[int] = mapped_column(Integer, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

    __table_args__ = (Index("ix_drift_findings_series_id_run_id", "series_id", "run_id"),)


class HistoryPointRow(Base):
    """One point of a series, seen by the predictor or sent in bulk; the key drops repeats."""

    __tablename__ = "history_points"

    series_id: Mapped[str] = mapped_column(String(128))
    ts: Mapped[float] = mapped_column(Double)
    value: Mapped[float] = mapped_column(Double, nullable=False)

    __table_args__ = (
        PrimaryKeyConstraint("series_id", "ts"),
        # retention deletes by time alone: BRIN on PostgreSQL (tiny, rows arrive in time order)
        Index("ix_history_points_ts", "ts", postgresql_using="brin"),
        {"sqlite_with_rowid": False},
    )


class PromotionRow(Base):
    """A canary or shadow promotion of one version; ``step`` guards every state change."""

    __tablename__ = "promotions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    series_id: Mapped[str] = mapped_column(String(128), nullable=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    champion_version: Mapped[int | None] = mapped_column(Integer)
    strategy: Mapped[str] = mapped_column(String(16), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    percentage: Mapped[float] = mapped_column(Double, nullable=False)
    config: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    # cumulative counts when the current step began: the step's evidence is now minus this
    baseline: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    verdict: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    step: Mapped[int] = mapped_column(Integer, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[float] = mapped_column(Double, nullable=False)
    updated_at: Mapped[float] = mapped_column(Double, nullable=False)
    step_started_at: Mapped[float] = mapped_column(Double, nullable=False)
    next_action_at: Mapped[float | None] = mapped_column(Double)
    finished_at: Mapped[float | None] = mapped_column(Double)
    created_by: Mapped[str | None] = mapped_column(String(256))

    __table_args__ = (
        Index("ix_promotions_series_created", "series_id", "created_at"),
        Index("ix_promotions_state", "state"),
        # at most one unfinished promotion per series
        Index(
            "ux_promotions_active_series",
            "series_id",
            unique=True,
            sqlite_where=text("finished_at IS NULL"),
            postgresql_where=text("finished_at IS NULL"),
        ),
    )


class PromotionEventRow(Base):
    """One transition of a promotion, with the evidence it was decided on."""

    __tablename__ = "promotion_events"

    promotion_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Double, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False)
    percentage: Mapped[float] = mapped_column(Double, nullable=False)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)


class SchedulerRunRow(Base):
    """One run of a scheduled task; ``cursor`` lets a long run resume after a restart."""

    __tablename__ = "scheduler_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    task: Mapped[str] = mapped_column(String(64), nullable=False)
    # the cron fire time this run is for; unique per task, so a fire runs once
    scheduled_for: Mapped[float | None] = mapped_column(Double)
    started_at: Mapped[float] = mapped_column(Double, nullable=False)
    finished_at: Mapped[float | None] = mapped_column(Double)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    triggered_by: Mapped[str] = mapped_column(String(256), nullable=False)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    cursor: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_scheduler_runs_task_started", "task", "started_at"),
        Index("ix_scheduler_runs_started_at", "started_at"),
        Index("ux_scheduler_runs_task_fire", "task", "scheduled_for", unique=True),
    )
