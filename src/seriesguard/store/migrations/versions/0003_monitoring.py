"""Monitoring: per-series hourly statistics, flagged predictions, ground truth, drift runs,
and the reference summaries drift is judged against.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# core.monitoring.REFERENCE_BINS when this migration was written; a migration never follows
# a later change of the constant.
_REFERENCE_BINS = 10


def upgrade() -> None:
    # Nullable columns with no default: SQLite adds them in place, no table rebuild.
    op.add_column("series", sa.Column("production_reference", sa.JSON, nullable=True))
    op.add_column("model_versions", sa.Column("reference", sa.JSON, nullable=True))
    _create_series_stats()
    _create_ground_truth()
    _create_drift()


def _create_series_stats() -> None:
    bins = [f"in_bin_{i}" for i in range(_REFERENCE_BINS)]
    op.create_table(
        "series_stats",
        sa.Column("series_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("hour", sa.Integer, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("requests", sa.BigInteger, nullable=False),
        sa.Column("errors", sa.BigInteger, nullable=False),
        sa.Column("anomalies", sa.BigInteger, nullable=False),
        sa.Column("latency", sa.JSON, nullable=False),
        *(sa.Column(name, sa.BigInteger, nullable=False, server_default="0") for name in bins),
        # PostgreSQL: the key carries the counts, so the fleet drift check's read of a range
        # of series is an index-only scan (SQLite ignores INCLUDE).
        sa.PrimaryKeyConstraint(
            "series_id",
            "version",
            "hour",
            "source",
            postgresql_include=["requests", "errors", "anomalies", *bins],
        ),
        # SQLite: rows stored in key order (WITHOUT ROWID), so that read is a range scan of
        # the table itself, not an index walk with a row lookup per hour.
        sqlite_with_rowid=False,
    )
    op.create_index("ix_series_stats_hour", "series_stats", ["hour"])


def _create_ground_truth() -> None:
    op.create_table(
        "flagged_predictions",
        sa.Column("series_id", sa.String(128), primary_key=True),
        sa.Column("timestamp", sa.Double, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("score", sa.Double, nullable=False),
        sa.Column("predicted_at", sa.Double, nullable=False),
    )
    op.create_index("ix_flagged_predictions_predicted_at", "flagged_predictions", ["predicted_at"])
    op.create_table(
        "feedback",
        sa.Column("series_id", sa.String(128), primary_key=True),
        sa.Column("timestamp", sa.Double, primary_key=True),
        sa.Column("is_anomaly", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("received_at", sa.Double, nullable=False),
        sa.Column("submitted_by", sa.String(256), nullable=True),
    )
    op.create_index("ix_feedback_received_at", "feedback", ["received_at"])


def _create_drift() -> None:
    op.create_table(
        "drift_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("finished_at", sa.Double, nullable=True),
        sa.Column("window_seconds", sa.Integer, nullable=False),
        sa.Column("series_checked", sa.Integer, nullable=False),
        sa.Column("data_drifted", sa.Integer, nullable=False),
        sa.Column("concept_drifted", sa.Integer, nullable=False),
        sa.Column("insufficient", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("triggered_by", sa.String(256), nullable=False),
    )
    op.create_index("ix_drift_runs_started_at", "drift_runs", ["started_at"])
    op.create_table(
        "drift_findings",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("series_id", sa.String(128), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("statistic", sa.Double, nullable=False),
        sa.Column("threshold", sa.Double, nullable=False),
        sa.Column("sample_size", sa.Integer, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_drift_findings_series_id_run_id", "drift_findings", ["series_id", "run_id"])


def downgrade() -> None:
    op.drop_index("ix_drift_findings_series_id_run_id", "drift_findings")
    op.drop_table("drift_findings")
    op.drop_index("ix_drift_runs_started_at", "drift_runs")
    op.drop_table("drift_runs")
    op.drop_index("ix_feedback_received_at", "feedback")
    op.drop_table("feedback")
    op.drop_index("ix_flagged_predictions_predicted_at", "flagged_predictions")
    op.drop_table("flagged_predictions")
    op.drop_index("ix_series_stats_hour", "series_stats")
    op.drop_table("series_stats")
    # Batch mode: SQLite rebuilds the table to drop a column; PostgreSQL just drops it.
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_column("reference")
    with op.batch_alter_table("series") as batch:
        batch.drop_column("production_reference")
