"""Opening MLflow's SQL backend safely: fail fast when it is down, create SQLite atomically.

MLflow creates a new SQLite store by running its whole migration chain in place (seconds). A
process killed in the middle leaves a half-migrated file that MLflow refuses ever after, so a
new store is built under a temporary name and renamed into place once complete.
"""

from __future__ import annotations

import os
from pathlib import Path

import sqlalchemy
from sqlalchemy.pool import NullPool


def sqlite_path(uri: str) -> Path | None:
    """The file behind a ``sqlite:///`` URI (None for in-memory or other schemes)."""
    if not uri.startswith("sqlite:"):
        return None
    path = uri.split(":///", 1)[-1].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def probe_database(uri: str, *, connect_timeout: int) -> None:
    """Connect once: MLflow's own stores retry opening a database that is down ten times with
    exponential back-off (~100 s, not configurable in 3.17); this fails in milliseconds."""
    path = sqlite_path(uri)
    if path is not None:
        create_sqlite_store(path)
    timeout = {} if uri.startswith("sqlite:") else {"connect_timeout": connect_timeout}
    engine = sqlalchemy.create_engine(uri, poolclass=NullPool, connect_args=timeout)
    with engine.connect():  # NullPool: closing the connection leaves nothing open
        pass


def create_sqlite_store(path: Path) -> None:
    """Create MLflow's schema in ``path`` all at once, or not at all."""
    if path.exists():
        return
    from mlflow.store.db.utils import _initialize_tables  # the schema MLflow itself creates

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    partial.unlink(missing_ok=True)
    engine = sqlalchemy.create_engine(f"sqlite:///{partial}", poolclass=NullPool)
    try:
        _initialize_tables(engine)  # type: ignore[no-untyped-call]
    finally:
        engine.dispose()
    os.replace(partial, path)
