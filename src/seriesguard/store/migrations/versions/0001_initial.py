"""Job table, serving catalog and version mirror.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "training_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("series_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("algorithm", sa.String(64), nullable=False),
        sa.Column("hyperparameters", sa.JSON, nullable=False),
        sa.Column("n_points", sa.Integer, nullable=False),
        sa.Column("data_path", sa.Text, nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("started_at", sa.Double),
        sa.Column("finished_at", sa.Double),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("error", sa.Text),
        sa.Column("model_version", sa.Integer),
        sa.Column("run_id", sa.String(64)),
        sa.Column("window_start", sa.Double),
        sa.Column("window_end", sa.Double),
    )
    op.create_index("ix_training_jobs_series_created", "training_jobs", ["series_id", "created_at"])
    op.create_index(
        "ix_training_jobs_status_priority", "training_jobs", ["status", "priority", "created_at"]
    )
    op.create_table(
        "series",
        sa.Column("series_id", sa.String(128), primary_key=True),
        sa.Column("production_version", sa.Integer),
        sa.Column("production_algorithm", sa.String(64)),
        sa.Column("production_params", sa.JSON),
        sa.Column("staging_version", sa.Integer),
        sa.Column("latest_version", sa.Integer),
        sa.Column("stats_mean", sa.Double),
        sa.Column("stats_std", sa.Double),
        sa.Column("stats_points", sa.Integer),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
    )
    op.create_index("ix_series_revision", "series", ["revision"])
    op.create_table(
        "model_versions",
        sa.Column("series_id", sa.String(128), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("algorithm", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("job_id", sa.String(36)),
        sa.Column("run_id", sa.String(64)),
        sa.Column("created_at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("model_versions")
    op.drop_index("ix_series_revision", "series")
    op.drop_table("series")
    op.drop_index("ix_training_jobs_status_priority", "training_jobs")
    op.drop_index("ix_training_jobs_series_created", "training_jobs")
    op.drop_table("training_jobs")
