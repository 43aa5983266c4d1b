"""Which database failures mean "the metadata DB is down" rather than a bug.

The API answers these with 503 + Retry-After (a PostgreSQL restart, a full pool), so callers
retry instead of seeing a 500; the types stay here so no other layer imports SQLAlchemy's.
"""

from __future__ import annotations

from sqlalchemy import exc

DATABASE_DOWN: tuple[type[Exception], ...] = (
    exc.OperationalError,  # connection refused or dropped, server shutting down
    exc.InterfaceError,  # connection already closed
    exc.TimeoutError,  # no free connection in the pool in time
)
RETRY_AFTER_SECONDS = 5
