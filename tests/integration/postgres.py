"""The local PostgreSQL server the integration tests use: its URL, and two independent
engines on it (two processes' worth of connection pools)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, text

from seriesguard.store.db import create_db_engine

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def two_engines() -> Iterator[tuple[Engine, Engine]]:
    """For a fixture: fails (never skips) when PostgreSQL is not there."""
    try:
        with create_engine(SERVER).connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {SERVER} is needed for this test: {exc}")
    first, second = create_db_engine(SERVER), create_db_engine(SERVER)
    yield first, second
    first.dispose()
    second.dispose()


def fresh_database() -> Iterator[str]:
    """For a fixture: the URL of a new, empty database on the local server, dropped after.
    Fails (never skips) when PostgreSQL is not there."""
    host = SERVER.rsplit("/", 1)[0]
    name = f"sg_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(SERVER, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.fail(f"PostgreSQL at {host} is needed for this test: {exc}")
    try:
        yield f"{host}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
