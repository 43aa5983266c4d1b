"""Audit log, and who submitted each training job.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column with no default: SQLite adds it in place, no table rebuild.
    op.add_column("training_jobs", sa.Column("submitted_by", sa.String(256), nullable=True))
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.Column("roles", sa.JSON, nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("series_id", sa.String(128)),
        sa.Column("version", sa.Integer),
        sa.Column("job_id", sa.String(36)),
        sa.Column("client", sa.String(64)),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_audit_events_at", "audit_events", ["at"])
    op.create_index("ix_audit_events_action_id", "audit_events", ["action", "id"])
    op.create_index("ix_audit_events_series_id_id", "audit_events", ["series_id", "id"])
    op.create_index("ix_audit_events_subject_id", "audit_events", ["subject", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_subject_id", "audit_events")
    op.drop_index("ix_audit_events_series_id_id", "audit_events")
    op.drop_index("ix_audit_events_action_id", "audit_events")
    op.drop_index("ix_audit_events_at", "audit_events")
    op.drop_table("audit_events")
    # Batch mode: SQLite rebuilds the table to drop a column; PostgreSQL just drops it.
    with op.batch_alter_table("training_jobs") as batch:
        batch.drop_column("submitted_by")
