"""The history store over a migrated SQLite and PostgreSQL database (the store tests' engine)."""

from tests.integration.store.conftest import engine, sessions

__all__ = ["engine", "sessions"]
