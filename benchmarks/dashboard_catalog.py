"""A fleet catalog for the dashboard benchmark, written by bulk SQL into a fresh database.

    url, drop = scratch_database("postgresql", folder)
    counts = load_fleet(url, 285_000)  # what the fleet page should then show

The stage mix of a fleet that has run for a while: most series serve a Production version
(a fifth of them retrained, their first version Archived), some have a Staging version on
top, a few per cent serve none; a few hundred canaries and shadows (catalog columns and
their unfinished promotions), finished rollbacks, training jobs in every status, one drift
run with findings, and a day of hourly statistics rows of every served series (the fleet
anomaly rate). Series and versions go in by COPY (PostgreSQL) or executemany (SQLite), the
statistics by INSERT ... SELECT in the database itself (a statement per 50,000 series), the
jobs, promotions and drift run as ``dashboard_activity.py`` writes them.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.dashboard_activity import write_drift_run, write_jobs, write_promotions
from benchmarks.fleet import NORMAL_DECILES, series_ids
from sqlalchemy import Engine, create_engine, text

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SCRATCH_DB = "seriesguard_bench_dashboard"
STATS_HOURS = 24
STATS_SOURCE = "pod-a"
REQUESTS_PER_HOUR = 60  # per series and hour: one prediction a minute

Progress = Callable[[str], None]


@dataclass
class FleetCounts:
    """What the loader wrote: the figures the fleet page and the API must show."""

    total: int = 0
    production: int = 0
    staging: int = 0
    canary: int = 0
    shadow: int = 0
    versions: int = 0
    stats_rows: int = 0
    anomalies: int = 0
    jobs: dict[str, int] = field(default_factory=dict)
    rollbacks: int = 0
    drift_findings: int = 0

    @property
    def without_production(self) -> int:
        return self.total - self.production


def scratch_database(kind: str, folder: Path) -> tuple[str, Callable[[], None]]:
    """(URL, drop) of an empty database of ``kind``: a scratch PostgreSQL database (dropped
    first if a crashed run left it) or a SQLite file in ``folder``."""
    if kind == "sqlite":
        path = folder / "seriesguard.db"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}", lambda: None
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{SCRATCH_DB}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)'))
        admin.dispose()

    return f"{PG_SERVER.rsplit('/', 1)[0]}/{SCRATCH_DB}", drop


def _quiet(message: str) -> None:
    return None


def load_fleet(
    url: str, series: int, *, stats_hours: int = STATS_HOURS, progress: Progress = _quiet
) -> FleetCounts:
    """Migrate the database at ``url`` and fill it with a fleet of ``series`` series."""
    from seriesguard.store.db import create_db_engine, upgrade

    engine = create_db_engine(url)
    try:
        upgrade(engine)
        now = time.time()
        plan = FleetPlan(series)
        counts = FleetCounts(total=series)
        started = time.perf_counter()
        _write_catalog(engine, plan, counts, now=now)
        progress(f"{series:,} series, {counts.versions:,} versions ({_since(started)})")
        counts.stats_rows, counts.anomalies = _write_stats(
            engine, plan, hours=stats_hours, now=now, progress=progress
        )
        progress(f"{counts.stats_rows:,} hourly statistics rows ({_since(started)})")
        counts.jobs = write_jobs(engine, plan, now=now)
        counts.rollbacks = write_promotions(engine, plan, now=now)
        sample = stats_hours * REQUESTS_PER_HOUR
        counts.drift_findings = write_drift_run(engine, plan, now=now, sample_size=sample)
        progress(
            f"{sum(counts.jobs.values()):,} jobs, {len(plan.canaries) + len(plan.shadows)} "
            f"rollouts, {counts.rollbacks} rollbacks, {counts.drift_findings:,} drift findings"
            f" ({_since(started)})"
        )
        _analyze(engine)
        progress(f"statistics of the planner gathered ({_since(started)})")
    finally:
        engine.dispose()
    return counts


def _since(started: float) -> str:
    return f"{time.perf_counter() - started:.1f} s"


class FleetPlan:
    """Which series is in which state: spread over the fleet by a multiplicative hash of the
    index, so every page and every filter holds a mix (not one block per state)."""

    def __init__(self, series: int) -> None:
        self.ids = series_ids(series)
        self.served = [i for i in range(series) if self.shape(i) != "unserved"]
        self.canaries = _spread(self.served, min(300, max(series // 500, 1)), set(), 1)
        self.shadows = _spread(self.served, min(150, max(series // 1000, 1)), self.canaries, 2)
        self.rolled_back = _spread(
            self.served, min(40, max(series // 5000, 1)), self.canaries | self.shadows, 3
        )

    @staticmethod
    def shape(index: int) -> str:
        """unserved (4 %: half staging only, half a rejected version), staged (6 %:
        Production v1 and Staging v2), retrained (20 %: Archived v1, Production v2), plain."""
        r = (index * 7919) % 1000
        if r < 40:
            return "unserved"
        if r < 100:
            return "staged"
        if r < 300:
            return "retrained"
        return "plain"

    def stages(self, index: int) -> list[str]:
        """The stage of each version, v1 first; a canary, shadow or rolled-back candidate is
        the last version, stage None."""
        stages = {
            "unserved": ["Staging" if index % 2 else "None"],
            "staged": ["Production", "Staging"],
            "retrained": ["Archived", "Production"],
            "plain": ["Production"],
        }[self.shape(index)]
        if index in self.canaries or index in self.shadows or index in self.rolled_back:
            stages.append("None")
        return stages

    def production(self, index: int) -> int:
        """The Production version of a served series."""
        return self.stages(index).index("Production") + 1


def _spread(among: list[int], count: int, taken: set[int], offset: int) -> set[int]:
    """``count`` indices evenly spread over ``among``, none of ``taken``."""
    free = [i for i in among if i not in taken]
    step = max(len(free) // count, 1)
    return set(free[offset::step][:count])


def _params(index: int) -> tuple[str, float, float]:
    mean, std = 50.0 + (index % 97) * 0.7, 0.5 + (index % 13) * 0.3
    return json.dumps({"mean": mean, "std": std, "threshold_sigma": 3.0}), mean, std


def _reference(mean: float, std: float) -> str:
    edges = [round(mean + std * z, 4) for z in NORMAL_DECILES]
    document = {"edges": edges, "counts": [1000] * 10, "n_points": 10_000, "anomaly_rate": 0.0027}
    return json.dumps(document)


SERIES_COLUMNS = (
    "series_id",
    "production_version",
    "production_algorithm",
    "production_params",
    "production_reference",
    "staging_version",
    "latest_version",
    "stats_mean",
    "stats_std",
    "stats_points",
    "canary_version",
    "canary_percentage",
    "canary_algorithm",
    "canary_params",
    "shadow_version",
    "shadow_algorithm",
    "shadow_params",
    "revision",
    "updated_at",
)
VERSION_COLUMNS = (
    "series_id",
    "version",
    "stage",
    "algorithm",
    "params",
    "metrics",
    "created_at",
    "reference",
)


def _write_catalog(engine: Engine, plan: FleetPlan, counts: FleetCounts, *, now: float) -> None:
    series_rows: list[tuple[Any, ...]] = []
    version_rows: list[tuple[Any, ...]] = []
    metrics = json.dumps({"training_points": 10_000.0, "threshold": 3.0})
    for index, series_id in enumerate(plan.ids):
        params, mean, std = _params(index)
        reference = _reference(mean, std)
        stages = plan.stages(index)
        created = now - 86_400 * 30 + index
        for number, stage in enumerate(stages, start=1):
            version_rows.append(
                (series_id, number, stage, "statistical", params, metrics, created, reference)
            )
        production = stages.index("Production") + 1 if "Production" in stages else None
        staging = stages.index("Staging") + 1 if "Staging" in stages else None
        latest = len(stages)
        served = production is not None
        in_canary, in_shadow = index in plan.canaries, index in plan.shadows
        canary = (latest, 10.0, "statistical", params) if in_canary else (None,) * 4
        shadow = (latest, "statistical", params) if in_shadow else (None,) * 3
        series_rows.append(
            (
                series_id,
                production,
                "statistical" if served else None,
                params if served else None,
                reference if served else None,
                staging,
                latest,
                mean,
                std,
                10_000,
                *canary,
                *shadow,
                index + 1,
                now,
            )
        )
        counts.production += served
        counts.staging += staging is not None
        counts.versions += len(stages)
    counts.canary, counts.shadow = len(plan.canaries), len(plan.shadows)
    bulk_insert(engine, "series", SERIES_COLUMNS, series_rows)
    bulk_insert(engine, "model_versions", VERSION_COLUMNS, version_rows)


def bulk_insert(
    engine: Engine, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    """COPY on PostgreSQL, executemany of the DB-API driver on SQLite: a row costs
    microseconds, not an ORM object."""
    names = ", ".join(columns)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            for chunk in _chunks(rows, 50_000):
                cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", chunk)
        cursor.close()
        raw.commit()
    finally:
        raw.close()


def _chunks(rows: Iterable[tuple[Any, ...]], size: int) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


STATS_CHUNK = 50_000  # series per statement: progress between them


def _write_stats(
    engine: Engine, plan: FleetPlan, *, hours: int, now: float, progress: Progress
) -> tuple[int, int]:
    """``hours`` hourly rows of every served series, made by the database itself, a chunk
    of series per statement. One row in six carries an anomaly (0.28 % of the predictions).
    The rows go in key order (series, hour): an index built in order loads twice as fast as
    the predictors' hour-by-hour order, and the fleet anomaly rate of a day reads every row
    of the table either way."""
    if hours <= 0:
        return 0, 0
    from seriesguard.core.monitoring import hour_of

    last = hour_of(now)
    bins = ", ".join(f"in_bin_{i}" for i in range(10))
    statement = text(
        "WITH RECURSIVE hours(h) AS (SELECT CAST(:first AS INTEGER) UNION ALL "
        "SELECT h + 1 FROM hours WHERE h < :last) "
        "INSERT INTO series_stats (series_id, version, hour, source, requests, errors, "
        f"anomalies, latency, agreements, {bins}) "
        f"SELECT s.series_id, s.production_version, hours.h, '{STATS_SOURCE}', "
        f"{REQUESTS_PER_HOUR}, 0, CASE WHEN (s.revision + hours.h) % 6 = 0 THEN 1 ELSE 0 END, "
        "'{\"100\": 60}', 0, " + ", ".join("6" for _ in range(10)) + " "
        "FROM series s CROSS JOIN hours WHERE s.production_version IS NOT NULL "
        "AND s.series_id >= :low AND s.series_id < :high ORDER BY s.series_id, hours.h"
    )
    bounds = [*plan.ids[::STATS_CHUNK], plan.ids[-1] + "~"]  # "~" sorts after every id
    for chunk, (low, high) in enumerate(itertools.pairwise(bounds), start=1):
        with engine.begin() as connection:
            connection.execute(
                statement, {"first": last - hours + 1, "last": last, "low": low, "high": high}
            )
        done = min(chunk * STATS_CHUNK, len(plan.ids))
        progress(f"  hourly statistics: {done:,} / {len(plan.ids):,} series")
    with engine.connect() as connection:
        rows, anomalies = connection.execute(
            text("SELECT count(*), coalesce(sum(anomalies), 0) FROM series_stats")
        ).one()
    return int(rows), int(anomalies)


def _analyze(engine: Engine) -> None:
    """What a live database has from autovacuum: planner statistics, visibility map."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
