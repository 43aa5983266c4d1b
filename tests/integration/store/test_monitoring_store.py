"""Monitoring tables (migration 0003) and their repositories on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from itertools import product
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Engine, func, inspect, select

from seriesguard.core.monitoring import (
    REFERENCE_BINS,
    DriftFinding,
    DriftRun,
    FlaggedPrediction,
    LabelledPoint,
    StatsRow,
    WindowStats,
)
from seriesguard.store.db import (
    SessionFactory,
    alembic_config,
    upgrade,
)
from seriesguard.store.drift import DriftRepository
from seriesguard.store.feedback import FeedbackRepository, FlaggedRepository
from seriesguard.store.stats import SeriesStatsRepository
from seriesguard.store.tables import FlaggedPredictionRow, SeriesStatsRow

pytestmark = pytest.mark.integration

MONITORING_TABLES = {
    "series_stats",
    "flagged_predictions",
    "feedback",
    "drift_runs",
    "drift_findings",
}


def stats(series_id: str = "s1", **fields: Any) -> StatsRow:
    """A row of ``series_id``: version 1, hour 100, source pod-a, 10 requests, unless told."""
    row: dict[str, Any] = {"version": 1, "hour": 100, "source": "pod-a", "requests": 10}
    row |= {"errors": 0, "anomalies": 0, "latency": {}, "bins": (0,) * REFERENCE_BINS}
    return StatsRow(series_id=series_id, **(row | fields))


def ten(*head: int) -> tuple[int, ...]:
    return (*head, *(0,) * (REFERENCE_BINS - len(head)))


# -- series statistics -----------------------------------------------------------------------


def test_sources_add_up_and_a_reflush_replaces(sessions: SessionFactory) -> None:
    repo = SeriesStatsRepository(sessions)
    repo.upsert(
        [
            stats(source="pod-a", requests=10, errors=1, anomalies=2, latency={3: 4, 5: 1}),
            stats(source="pod-b", requests=7, anomalies=1, latency={3: 2, 9: 1}, bins=ten(1, 2)),
        ]
    )
    # pod-a flushes again later in the hour: its cumulative counts replace its row
    repo.upsert([stats(source="pod-a", requests=12, errors=1, anomalies=3, latency={3: 5, 5: 1})])
    repo.upsert([stats(source="pod-a", requests=12, errors=1, anomalies=3, latency={3: 5, 5: 1})])

    [window] = repo.series_window(series_id="s1", since_hour=100, until_hour=100)

    # series, version, requests, errors, anomalies, latency, bins, first and last hour
    assert window == WindowStats("s1", 1, 19, 1, 4, {3: 7, 5: 1, 9: 1}, ten(1, 2), 100, 100)


def test_series_window_sums_hours_inside_the_window_per_version(sessions: SessionFactory) -> None:
    repo = SeriesStatsRepository(sessions)
    repo.upsert(
        [
            stats(hour=99, requests=1000),  # before the window
            stats(hour=100, requests=1, latency={1: 1}, bins=ten(1)),
            stats(hour=102, requests=2, latency={1: 2}, bins=ten(0, 2)),
            stats(hour=103, requests=3000),  # after the window
            stats(version=0, hour=101, requests=5, errors=5),
            stats("other", hour=101, requests=50),
        ]
    )

    windows = repo.series_window(series_id="s1", since_hour=100, until_hour=102)

    assert [(w.version, w.requests, w.errors) for w in windows] == [(0, 5, 5), (1, 3, 0)]
    assert windows[1].latency == {1: 3}
    assert windows[1].bins == ten(1, 2)
    assert (windows[1].first_hour, windows[1].last_hour) == (100, 102)
    assert repo.series_window(series_id="s1", since_hour=104, until_hour=200) == []


def test_upsert_of_many_rows_where_the_last_duplicate_wins(sessions: SessionFactory) -> None:
    repo = SeriesStatsRepository(sessions)
    rows = [stats(f"s{i:05d}", requests=i, bins=ten(i)) for i in range(5_000)]
    repo.upsert([*rows, stats("s00007", requests=70)])

    page = repo.fleet_window(since_hour=100, until_hour=100)

    assert len(page) == 5_000
    assert sum(w.requests for w in page) == sum(range(5_000)) - 7 + 70
    assert page[4_999].bins == ten(4_999)


def test_upsert_refuses_a_row_with_the_wrong_number_of_bins(sessions: SessionFactory) -> None:
    with pytest.raises(ValueError, match="bins"):
        SeriesStatsRepository(sessions).upsert([stats(bins=(1, 2))])


def test_fleet_window_pages_every_series_once_with_the_per_series_sums(
    sessions: SessionFactory,
) -> None:
    repo = SeriesStatsRepository(sessions)
    rows = [
        stats(
            f"series-{n}",
            version=version,
            hour=hour,
            source=source,
            requests=n + hour,
            errors=version,
            anomalies=hour % 2,
            latency={hour: 1},
            bins=ten(n, hour, version),
        )
        for n in range(7)
        for version in range(1 + n % 3)  # some series have several versions
        for hour, source in product((99, 100, 101, 102), ("pod-a", "pod-b"))
    ]
    rows.append(stats("series-old", hour=90))  # only outside the window
    repo.upsert(rows)

    pages = read_fleet(repo, since_hour=100, until_hour=102, limit=3)

    # series-n has 1 + n % 3 versions; a page of at most 3 entries ends where a series ends
    assert [sorted({w.series_id[-1] for w in page}) for page in pages] == [
        ["0", "1"],
        ["2"],
        ["3", "4"],
        ["5"],
        ["6"],
    ]
    fleet = [w for page in pages for w in page]
    assert sorted({w.series_id for w in fleet}) == [f"series-{n}" for n in range(7)]
    expected = [
        replace(w, latency={})
        for n in range(7)
        for w in repo.series_window(series_id=f"series-{n}", since_hour=100, until_hour=102)
    ]
    assert fleet == expected
    assert fleet[0].requests == 2 * (100 + 101 + 102)


def test_a_series_with_more_versions_than_the_page_limit_comes_alone(
    sessions: SessionFactory,
) -> None:
    repo = SeriesStatsRepository(sessions)
    repo.upsert([stats("a"), *(stats("b", version=v) for v in (1, 2, 3)), stats("c")])

    pages = read_fleet(repo, since_hour=100, until_hour=100, limit=2)

    assert [[(w.series_id, w.version) for w in page] for page in pages] == [
        [("a", 1)],
        [("b", 1), ("b", 2), ("b", 3)],
        [("c", 1)],
    ]


def read_fleet(
    repo: SeriesStatsRepository, *, since_hour: int, until_hour: int, limit: int
) -> list[list[WindowStats]]:
    pages: list[list[WindowStats]] = []
    after = ""
    while page := repo.fleet_window(
        since_hour=since_hour, until_hour=until_hour, after_series=after, limit=limit
    ):
        pages.append(page)
        after = page[-1].series_id
    return pages


def test_prune_stats_deletes_hours_before_the_cut(sessions: SessionFactory) -> None:
    repo = SeriesStatsRepository(sessions)
    repo.upsert([stats(hour=h, source=s) for h in (98, 99, 100) for s in ("a", "b")])

    assert repo.prune(before_hour=100) == 4

    with sessions() as session:
        assert session.scalars(select(SeriesStatsRow.hour)).all() == [100, 100]


# -- flagged predictions and ground truth ----------------------------------------------------


def flagged(timestamp: float, version: int, *, predicted_at: float = 5_000.0) -> FlaggedPrediction:
    return FlaggedPrediction(
        series_id="s1", timestamp=timestamp, version=version, score=4.2, predicted_at=predicted_at
    )


def count_flagged(sessions: SessionFactory) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(FlaggedPredictionRow)) or 0)


def label(
    feedback: FeedbackRepository,
    point: LabelledPoint,
    *,
    version: int | None,
    now: float,
    series_id: str = "s1",
) -> None:
    feedback.upsert(
        series_id=series_id, points=[point], version=version, submitted_by=None, now=now
    )


def test_flagged_duplicates_are_ignored(sessions: SessionFactory) -> None:
    repo = FlaggedRepository(sessions)
    repo.add_flagged([flagged(1.0, 1), flagged(1.0, 1), flagged(2.0, 1)])
    repo.add_flagged([flagged(1.0, 1), flagged(1.0, 2)])

    assert count_flagged(sessions) == 3


def test_feedback_joins_flagged_predictions(sessions: SessionFactory) -> None:
    FlaggedRepository(sessions).add_flagged(
        [
            flagged(10.0, 1),  # true positive of v1
            flagged(10.0, 2),  # the same point flagged by a canary v2 too
            flagged(20.0, 1),  # false positive, labelled normal below
            flagged(30.0, 1),  # flagged but never labelled: not in the join
            FlaggedPrediction("s2", 40.0, 7, 1.0, 5_000.0),  # another series
        ]
    )
    feedback = FeedbackRepository(sessions)
    stored = feedback.upsert(
        series_id="s1",
        points=[
            LabelledPoint(10.0, True),
            LabelledPoint(20.0, True),  # replaced below
            LabelledPoint(50.0, True),  # missed anomaly, charged to v1
            LabelledPoint(60.0, False),  # true negative, charged to v1
            LabelledPoint(500.0, True),  # outside the window read below
        ],
        version=1,
        submitted_by="alice",
        now=6_000.0,
    )
    label(feedback, LabelledPoint(20.0, False), version=1, now=6_001.0)
    # a label sent before the series had a production version: charged to none
    label(feedback, LabelledPoint(70.0, True), version=None, now=6_002.0)
    label(feedback, LabelledPoint(40.0, True), series_id="s2", version=7, now=1.0)

    joined = feedback.joined(series_id="s1", since=10.0, until=100.0)

    assert stored == 5
    assert joined == [
        (1, True, True),
        (2, True, True),
        (1, True, False),
        (1, False, True),
        (1, False, False),
    ]
    assert feedback.joined(series_id="s2", since=0.0, until=100.0) == [(7, True, True)]


def test_prune_flagged_and_feedback(sessions: SessionFactory) -> None:
    flagged_repo, feedback = FlaggedRepository(sessions), FeedbackRepository(sessions)
    flagged_repo.add_flagged([flagged(1.0, 1, predicted_at=100.0), flagged(2.0, 1)])
    label(feedback, LabelledPoint(1.0, True), version=1, now=100.0)
    label(feedback, LabelledPoint(2.0, True), version=1, now=900.0)

    assert flagged_repo.prune(before=200.0) == 1
    assert feedback.prune(before=200.0) == 1

    assert count_flagged(sessions) == 1
    assert feedback.joined(series_id="s1", since=0.0, until=10.0) == [(1, True, True)]


# -- drift runs ------------------------------------------------------------------------------


def run(run_id: str, started_at: float) -> DriftRun:
    return DriftRun(run_id, started_at, None, 86_400, 0, 0, 0, 0, "running", "scheduler")


def finding(series_id: str, kind: str, statistic: float = 0.3) -> DriftFinding:
    details: dict[str, float | int | str | None] = {"psi": statistic, "ref": "v3", "p": None}
    return DriftFinding(series_id, 3, kind, statistic, 0.2, 1_200, details)


def test_drift_runs_and_findings_round_trip(sessions: SessionFactory) -> None:
    drift = DriftRepository(sessions)
    drift.start(run("r1", 1_000.0))
    drift.start(run("r2", 2_000.0))
    drift.add_findings(run_id="r1", findings=[finding("a", "data"), finding("b", "concept", 0.9)])
    drift.add_findings(run_id="r2", findings=[finding("a", "data", 0.5), finding("a", "precision")])
    outcome: dict[str, Any] = {"finished_at": 2_100.0, "series_checked": 285_000}
    outcome |= {"data_drifted": 1, "concept_drifted": 0, "insufficient": 12}
    drift.finish(run_id="r2", status="succeeded", **outcome)

    assert drift.get("r2") == replace(run("r2", 2_000.0), status="succeeded", **outcome)
    assert drift.get("nope") is None
    assert [r.id for r in drift.list_runs(limit=10)] == ["r2", "r1"]
    assert [r.id for r in drift.list_runs(limit=1, before_started_at=2_000.0)] == ["r1"]
    assert drift.findings(run_id="r1", limit=10) == [
        finding("a", "data"),
        finding("b", "concept", 0.9),
    ]
    assert drift.findings(run_id="r1", limit=1, offset=1) == [finding("b", "concept", 0.9)]
    latest = drift.latest_findings(series_id="a")
    assert [(r.id, f.kind, f.statistic) for r, f in latest] == [
        ("r2", "data", 0.5),
        ("r2", "precision", 0.3),
        ("r1", "data", 0.3),
    ]
    assert drift.totals() == {"data": 2, "concept": 1, "precision": 1}
    with pytest.raises(KeyError):
        drift.finish(run_id="nope", status="failed", **outcome)


def test_prune_drift_runs_takes_their_findings(sessions: SessionFactory) -> None:
    drift = DriftRepository(sessions)
    drift.start(run("old", 1_000.0))
    drift.start(run("new", 2_000.0))
    drift.add_findings(run_id="old", findings=[finding("a", "data")])
    drift.add_findings(run_id="new", findings=[finding("a", "concept")])

    assert drift.prune(before=1_500.0) == 1

    assert [r.id for r in drift.list_runs(limit=10)] == ["new"]
    assert drift.findings(run_id="old", limit=10) == []
    assert drift.totals() == {"concept": 1}


# -- migration -------------------------------------------------------------------------------


def test_migration_0003_downgrades_and_upgrades_again(
    engine: Engine, sessions: SessionFactory
) -> None:
    SeriesStatsRepository(sessions).upsert([stats()])
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    tables = inspect(engine)
    assert not MONITORING_TABLES & set(tables.get_table_names())
    assert "production_reference" not in {c["name"] for c in tables.get_columns("series")}
    assert "reference" not in {c["name"] for c in tables.get_columns("model_versions")}
    assert "ix_series_revision" in {i["name"] for i in tables.get_indexes("series")}

    upgrade(engine)

    tables = inspect(engine)
    assert set(tables.get_table_names()) >= MONITORING_TABLES
    assert "production_reference" in {c["name"] for c in tables.get_columns("series")}
    assert "reference" in {c["name"] for c in tables.get_columns("model_versions")}
    assert "ix_series_stats_hour" in {i["name"] for i in tables.get_indexes("series_stats")}
    repo = SeriesStatsRepository(sessions)
    repo.upsert([stats()])
    [window] = repo.series_window(series_id="s1", since_hour=100, until_hour=100)
    assert window.requests == 10
