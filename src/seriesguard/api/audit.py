"""Recording who did what: every promotion, rollback, cancel and reload, after it succeeded."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from seriesguard.api.security import client_address
from seriesguard.core.audit import AuditAction, AuditEvent
from seriesguard.core.authz import Principal
from seriesguard.observability.context import current_request_id
from seriesguard.store.audit import AuditRepository

MAX_FORWARDED = 200  # X-Forwarded-For is the caller's to write: kept, but bounded


async def record_action(
    audit: AuditRepository,
    request: Request,
    caller: Principal,
    *,
    action: AuditAction,
    series_id: str | None = None,
    version: int | None = None,
    job_id: str | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    extra = dict(details or {})
    extra["request_id"] = current_request_id()
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded:
        extra["forwarded_for"] = forwarded[:MAX_FORWARDED]
    event = AuditEvent(
        id=None,
        at=time.time(),
        subject=caller.subject,
        roles=tuple(sorted(caller.roles)),
        action=action,
        series_id=series_id,
        version=version,
        job_id=job_id,
        client=client_address(request),
        outcome="ok",
        details=extra,
    )
    await run_in_threadpool(audit.record, event)
