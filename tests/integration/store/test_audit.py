"""Audit repository and migration 0002 (audit log, job owner) on SQLite and PostgreSQL."""

from __future__ import annotations

import time
import uuid

import pytest
from alembic import command
from sqlalchemy import Engine, inspect

from seriesguard.core.audit import AuditAction, AuditEvent
from seriesguard.core.jobs import Job, JobStatus
from seriesguard.store.audit import AuditRepository
from seriesguard.store.db import (
    SessionFactory,
    alembic_config,
    upgrade,
)
from seriesguard.store.jobs import JobRepository

pytestmark = pytest.mark.integration


def event(
    action: AuditAction = AuditAction.PROMOTE,
    *,
    subject: str = "alice",
    series_id: str | None = "s1",
    at: float = 1000.0,
    **fields: object,
) -> AuditEvent:
    return AuditEvent(
        id=None,
        at=at,
        subject=subject,
        roles=("operator",),
        action=action,
        series_id=series_id,
        **fields,  # type: ignore[arg-type]
    )


def test_record_returns_the_event_with_its_id_and_json_round_trips(
    sessions: SessionFactory,
) -> None:
    audit = AuditRepository(sessions)
    details = {"stage": "Production", "archived": [1, 2], "nested": {"ok": True, "x": 1.5}}
    recorded = audit.record(
        AuditEvent(
            id=None,
            at=1234.5,
            subject="svc:ci",
            roles=("admin", "operator"),
            action=AuditAction.PROMOTE,
            series_id="pump-1.x",
            version=7,
            job_id=str(uuid.uuid4()),
            client="10.0.0.7",
            outcome="ok",
            details=details,
        )
    )
    assert recorded.id is not None
    [read] = audit.page(limit=10)
    assert read == recorded
    assert read.roles == ("admin", "operator") and read.details == details
    assert read.action is AuditAction.PROMOTE


def test_page_is_newest_first_and_keyset_paginated(sessions: SessionFactory) -> None:
    audit = AuditRepository(sessions)
    ids = [audit.record(event(at=1000.0 + i, version=i)).id for i in range(7)]
    assert ids == sorted(ids) and len(set(ids)) == 7
    seen: list[int | None] = []
    before: int | None = None
    while page := audit.page(limit=3, before_id=before):
        assert len(page) <= 3
        seen.extend(e.id for e in page)
        before = page[-1].id
    assert seen == ids[::-1]
    # An event recorded meanwhile does not shift the pages after it.
    first = audit.page(limit=3)
    audit.record(event(at=2000.0))
    assert [e.id for e in audit.page(limit=3, before_id=first[-1].id)] == ids[::-1][3:6]
    assert audit.page(limit=0) == []


def test_filters_combine(sessions: SessionFactory) -> None:
    audit = AuditRepository(sessions)
    audit.record(event(AuditAction.PROMOTE, subject="alice", series_id="a"))
    audit.record(event(AuditAction.ROLLBACK, subject="bob", series_id="a"))
    audit.record(event(AuditAction.CANCEL, subject="alice", series_id=None, job_id="j-1"))
    audit.record(event(AuditAction.RELOAD, subject="bob", series_id="b", outcome="refused"))
    audit.record(event(AuditAction.PROMOTE, subject="bob", series_id="b"))

    def actions(**filters: object) -> list[str]:
        return [e.action.value for e in audit.page(limit=10, **filters)]  # type: ignore[arg-type]

    assert actions(action=AuditAction.PROMOTE) == ["promote", "promote"]
    assert actions(series_id="a") == ["rollback", "promote"]
    assert actions(subject="alice") == ["cancel", "promote"]
    assert actions(subject="bob", series_id="b") == ["promote", "reload"]
    assert actions(subject="bob", action=AuditAction.CANCEL) == []
    refused = audit.page(limit=10, action=AuditAction.RELOAD)
    assert [e.outcome for e in refused] == ["refused"]
    [cancel] = audit.page(limit=10, action=AuditAction.CANCEL)
    assert cancel.series_id is None and cancel.job_id == "j-1" and cancel.version is None


def test_over_long_values_are_cut_not_lost(sessions: SessionFactory) -> None:
    audit = AuditRepository(sessions)
    recorded = audit.record(event(subject="s" * 1000, client="c" * 200, outcome="o" * 50))
    assert recorded.subject == "s" * 256 and recorded.client == "c" * 64
    assert audit.page(limit=1) == [recorded]


def test_job_owner_round_trips(sessions: SessionFactory) -> None:
    jobs = JobRepository(sessions)
    now = time.time()
    base = {
        "series_id": "owned",
        "status": JobStatus.QUEUED,
        "priority": 5,
        "algorithm": "statistical",
        "hyperparameters": {},
        "n_points": 10,
        "data_path": "/d",
        "created_at": now,
        "updated_at": now,
    }
    jobs.create(Job(id="by-alice", submitted_by="alice", **base), min_interval_seconds=0)  # type: ignore[arg-type]
    jobs.create(Job(id="anonymous", **base), min_interval_seconds=0)  # type: ignore[arg-type]
    assert jobs.get("by-alice").submitted_by == "alice"  # type: ignore[union-attr]
    assert jobs.get("anonymous").submitted_by is None  # type: ignore[union-attr]
    claimed = jobs.claim("by-alice")
    assert claimed is not None and claimed.submitted_by == "alice"
    listed, _ = jobs.list_jobs(series_id="owned")
    assert {j.id: j.submitted_by for j in listed} == {"by-alice": "alice", "anonymous": None}


def test_migration_0002_downgrades_and_upgrades_again(engine: Engine) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
    tables = inspect(engine)
    assert "audit_events" not in tables.get_table_names()
    assert "submitted_by" not in {c["name"] for c in tables.get_columns("training_jobs")}
    upgrade(engine)
    tables = inspect(engine)
    assert "audit_events" in tables.get_table_names()
    assert "submitted_by" in {c["name"] for c in tables.get_columns("training_jobs")}
