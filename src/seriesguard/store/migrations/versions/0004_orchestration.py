"""Orchestration: canary and shadow versions in the serving catalog, shadow agreement counts,
the history store, promotion records and their events, scheduled runs.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("finished_at IS NULL")


def upgrade() -> None:
    # Nullable columns, or a constant default: SQLite adds them in place, no table rebuild.
    for name, kind in (
        ("canary_version", sa.Integer),
        ("canary_percentage", sa.Double),
        ("canary_algorithm", sa.String(64)),
        ("canary_params", sa.JSON),
        ("canary_reference", sa.JSON),
        ("shadow_version", sa.Integer),
        ("shadow_algorithm", sa.String(64)),
        ("shadow_params", sa.JSON),
        ("shadow_reference", sa.JSON),
    ):
        op.add_column("series", sa.Column(name, kind, nullable=True))
    op.add_column(
        "series_stats",
        sa.Column("agreements", sa.BigInteger, nullable=False, server_default="0"),
    )
    _create_history()
    _create_promotions()
    _create_scheduler_runs()


def _create_history() -> None:
    op.create_table(
        "history_points",
        sa.Column("series_id", sa.String(128), nullable=False),
        sa.Column("ts", sa.Double, nullable=False),
        sa.Column("value", sa.Double, nullable=False),
        sa.PrimaryKeyConstraint("series_id", "ts"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_history_points_ts", "history_points", ["ts"], postgresql_using="brin")


def _create_promotions() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("series_id", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("champion_version", sa.Integer, nullable=True),
        sa.Column("strategy", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("percentage", sa.Double, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("baseline", sa.JSON, nullable=True),
        sa.Column("verdict", sa.JSON, nullable=True),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("updated_at", sa.Double, nullable=False),
        sa.Column("step_started_at", sa.Double, nullable=False),
        sa.Column("next_action_at", sa.Double, nullable=True),
        sa.Column("finished_at", sa.Double, nullable=True),
        sa.Column("created_by", sa.String(256), nullable=True),
    )
    op.create_index("ix_promotions_series_created", "promotions", ["series_id", "created_at"])
    op.create_index("ix_promotions_state", "promotions", ["state"])
    op.create_index(
        "ux_promotions_active_series",
        "promotions",
        ["series_id"],
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )
    op.create_table(
        "promotion_events",
        sa.Column("promotion_id", sa.String(36), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("percentage", sa.Double, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )


def _create_scheduler_runs() -> None:
    op.create_table(
        "scheduler_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("scheduled_for", sa.Double, nullable=True),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("finished_at", sa.Double, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("triggered_by", sa.String(256), nullable=False),
        sa.Column("progress", sa.JSON, nullable=False),
        sa.Column("cursor", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
    )
    op.create_index("ix_scheduler_runs_task_started", "scheduler_runs", ["task", "started_at"])
    op.create_index("ix_scheduler_runs_started_at", "scheduler_runs", ["started_at"])
    op.create_index(
        "ux_scheduler_runs_task_fire", "scheduler_runs", ["task", "scheduled_for"], unique=True
    )


def downgrade() -> None:
    op.drop_table("scheduler_runs")
    op.drop_table("promotion_events")
    op.drop_table("promotions")
    op.drop_table("history_points")
    op.drop_column("series_stats", "agreements")
    for name in (
        "shadow_reference",
        "shadow_params",
        "shadow_algorithm",
        "shadow_version",
        "canary_reference",
        "canary_params",
        "canary_algorithm",
        "canary_percentage",
        "canary_version",
    ):
        op.drop_column("series", name)
