"""The shadow's agreement count goes through a flush to the DB (COPY on PostgreSQL,
executemany on SQLite) and a repeated flush replaces it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from seriesguard.core.monitoring import REFERENCE_BINS, StatsRow
from seriesguard.store.db import SessionFactory
from seriesguard.store.stats import SeriesStatsRepository
from seriesguard.store.tables import SeriesStatsRow

pytestmark = pytest.mark.integration


def row(version: int, requests: int, agreements: int = 0) -> StatsRow:
    bins = (0,) * REFERENCE_BINS
    return StatsRow("s1", version, 100, "pod", requests, 0, 1, {3: requests}, bins, agreements)


def stored(sessions: SessionFactory) -> dict[int, tuple[int, int]]:
    query = select(SeriesStatsRow.version, SeriesStatsRow.requests, SeriesStatsRow.agreements)
    with sessions() as session:
        return {version: (requests, agreed) for version, requests, agreed in session.execute(query)}


def test_agreements_are_written_and_replaced(sessions: SessionFactory) -> None:
    repository = SeriesStatsRepository(sessions)
    repository.upsert([row(1, 10), row(3, 10, agreements=7)])
    assert stored(sessions) == {1: (10, 0), 3: (10, 7)}
    repository.upsert([row(3, 25, agreements=20)])  # cumulative counts of the hour
    assert stored(sessions) == {1: (10, 0), 3: (25, 20)}
    assert row(1, 1).agreements == 0  # a row of an answering version counts none
