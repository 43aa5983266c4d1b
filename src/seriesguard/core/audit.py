"""Audit log: who did what to which model, from where, and whether it was allowed.

Only actions that change what is served or what runs are recorded (promote, rollback,
cancel, reload); reads are not. Events are appended, never changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AuditAction(StrEnum):
    """What was done. Stored as text (at most 32 characters), so adding members needs no
    migration."""

    PROMOTE = "promote"
    ROLLBACK = "rollback"
    CANCEL = "cancel"
    RELOAD = "reload"
    FEEDBACK = "feedback"


@dataclass(frozen=True)
class AuditEvent:
    """One audited request; ``id`` is None until the event is recorded.

    ``subject`` and ``roles`` identify the caller (token subject and roles, or whatever stands
    for them without auth), ``client`` is the caller's network address, ``outcome`` says how it
    ended (``ok``, ``refused``, ...) and ``details`` carries what is specific to the action.
    """

    id: int | None
    at: float  # epoch seconds
    subject: str
    roles: tuple[str, ...]
    action: AuditAction
    series_id: str | None = None
    version: int | None = None
    job_id: str | None = None
    client: str | None = None
    outcome: str = "ok"
    details: dict[str, Any] = field(default_factory=dict)
