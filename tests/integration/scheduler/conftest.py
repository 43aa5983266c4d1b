"""The scheduler's store tests run on SQLite and on PostgreSQL, like the store's."""

from tests.integration.store.conftest import engine, sessions

__all__ = ["engine", "sessions"]
