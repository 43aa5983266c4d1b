"""The metadata DB of the store tests: every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from tests.integration.postgres import fresh_database

from seriesguard.store.db import SessionFactory, create_db_engine, session_factory, upgrade


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A migrated, empty database of each kind (PostgreSQL: a fresh one, dropped after)."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'meta.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    for url in fresh_database():
        engine = create_db_engine(url)
        try:
            upgrade(engine)
            yield engine
        finally:
            engine.dispose()


@pytest.fixture()
def sessions(engine: Engine) -> SessionFactory:
    return session_factory(engine)
