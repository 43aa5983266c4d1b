"""Table definitions. Portable types only: the same migrations serve SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Double, Index, Integer, String, Text
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
