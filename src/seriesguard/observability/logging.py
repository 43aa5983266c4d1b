"""Structured logs: one JSON object per line for machines, plain text for a terminal.

``auto`` picks JSON when stderr is not a TTY (containers, CI, log shippers) and text when a
person is watching. Extra fields passed with ``extra={...}`` (job_id, series_id, ...) become
keys of the JSON object, and so does ``request_id`` for a line logged while a request runs,
and ``trace_id``/``span_id`` for a line logged inside a span (when tracing is enabled), so a
log line leads to its trace and back.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal

from seriesguard.observability.context import current_request_id
from seriesguard.observability.tracing import current_trace_ids

LogFormat = Literal["auto", "json", "text"]
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, *, process_role: str) -> None:
        super().__init__()
        self._role = process_role

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "role": self._role,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value if isinstance(value, int | float | bool | str) else str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class RequestIdFilter(logging.Filter):
    """Stamps a record logged while a request is served with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = current_request_id()
        if request_id is not None:
            record.request_id = request_id
        return True


class TraceIdsFilter(logging.Filter):
    """Stamps a record logged inside a span with the span's trace and span ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        ids = current_trace_ids()
        if ids is not None:
            record.trace_id, record.span_id = ids
        return True


def configure_logging(*, level: str, fmt: LogFormat, process_role: str) -> None:
    """Route every logger (uvicorn's and MLflow's too) through one handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.addFilter(TraceIdsFilter())
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    if use_json:
        handler.setFormatter(JsonFormatter(process_role=process_role))
    else:
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s [{process_role}] %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
