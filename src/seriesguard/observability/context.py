"""The request a log line belongs to, carried in a context variable.

A service mesh stamps every request with ``X-Request-ID`` (Envoy does), so the same id joins
the gateway's, the sidecar's and our log lines: we take it when it is there, and echo it back.
Without one, an id is made only if something is logged while the request runs: a uuid per
request would cost more than a prediction on the hot path, where nothing is logged.
"""

from __future__ import annotations

import re
import uuid
from contextvars import ContextVar

_CURRENT: ContextVar[list[str | None] | None] = ContextVar("seriesguard_request", default=None)
_ACCEPTED = re.compile(r"[A-Za-z0-9._:/+=-]{1,128}")


def accepted_request_id(raw: str | None) -> str | None:
    """A caller's ``X-Request-ID`` when it is a plain token of at most 128 characters (it ends
    up in log lines: nothing that could forge one)."""
    if raw is None or not _ACCEPTED.fullmatch(raw):
        return None
    return raw


def begin_request(request_id: str | None) -> object:
    """Enter a request; the returned token ends it (:func:`end_request`)."""
    return _CURRENT.set([request_id])


def end_request(token: object) -> None:
    _CURRENT.reset(token)  # type: ignore[arg-type]


def current_request_id() -> str | None:
    """The id of the request being served (made now if it has none yet); None outside one."""
    holder = _CURRENT.get()
    if holder is None:
        return None
    if holder[0] is None:
        holder[0] = uuid.uuid4().hex
    return holder[0]
