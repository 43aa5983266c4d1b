"""The history store: what a point costs on disk, how fast the flusher writes, and what
recording costs the predictor's hot path.

Storage: ``--points`` points (default 2,000,000: 2,000 series x 1,000 points, written in time
order in flush-sized batches as predictors would) into a fresh PostgreSQL database and a
fresh SQLite file; bytes per point of the table, its primary key and the ``ts`` index
(BRIN on PostgreSQL). Insert rate: the flusher's path (PostgreSQL COPY into a staging table +
INSERT ... ON CONFLICT DO NOTHING; SQLite executemany INSERT OR IGNORE) against a baseline
in the same run, SQLAlchemy's executemany INSERT ... ON CONFLICT DO NOTHING of the same rows.
Hot path: ``answer_counted`` (score, answer bytes, per-series statistics) with the history
recorder on and off, interleaved rounds.

    .venv/bin/python benchmarks/bench_history.py [--points 2000000] [--db postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.results import Figure, publish

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
SERIES = 2000
FLUSH = 50_000  # points per write: a few predictors' 10-second flushes
BASELINE_POINTS = 200_000


def batches(points: int, *, offset: float = 0.0) -> Iterator[Any]:
    """Flush-sized batches: each series' next points in time order, series interleaved."""
    from seriesguard.core.history import PointBatch

    per_series = max(points // SERIES, 1)
    ids = [f"sensor-{i:07d}:x" for i in range(SERIES)]
    rng = np.random.default_rng(4)
    step = max(FLUSH // SERIES, 1)
    for first in range(0, per_series, step):
        k = np.arange(first, min(first + step, per_series), dtype=np.float64)
        ts = 1.9e9 + offset + np.add.outer(np.zeros(SERIES), k * 100.0).ravel()
        ts += np.repeat(np.arange(SERIES) * 1e-3, len(k))  # series not in lockstep
        series = [sid for sid in ids for _ in range(len(k))]
        yield PointBatch(series_ids=series, timestamps=ts, values=rng.normal(10, 2, ts.size))


def fresh_postgres() -> tuple[str, Any]:
    from sqlalchemy import create_engine, text

    name = f"sg_bench_history_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return f"{PG_SERVER.rsplit('/', 1)[0]}/{name}", drop


def write(url: str, points: int, *, baseline: bool = False, offset: float = 0.0) -> float:
    """Seconds to write ``points`` through the store (or the baseline statement)."""
    from sqlalchemy.dialects import postgresql, sqlite

    from seriesguard.history.store import HistoryStore
    from seriesguard.store.db import create_db_engine, session_factory, upgrade
    from seriesguard.store.tables import HistoryPointRow

    engine = create_db_engine(url)
    upgrade(engine)
    sessions = session_factory(engine)
    store = HistoryStore(sessions)
    dialect = postgresql if url.startswith("postgresql") else sqlite
    statement = dialect.insert(HistoryPointRow).on_conflict_do_nothing()
    elapsed = 0.0
    for batch in batches(points, offset=offset):
        started = time.perf_counter()
        if baseline:
            rows = [
                {"series_id": s, "ts": t, "value": v}
                for s, t, v in zip(
                    batch.series_ids, batch.timestamps.tolist(), batch.values.tolist(), strict=True
                )
            ]
            with sessions.begin() as session:
                session.execute(statement, rows)
        else:
            store.add(batch)
        elapsed += time.perf_counter() - started
    engine.dispose()
    return elapsed


def pg_sizes(url: str) -> dict[str, float]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("VACUUM ANALYZE history_points"))
        row = connection.execute(
            text(
                "SELECT pg_relation_size('history_points'), "
                "pg_relation_size('history_points_pkey'), "
                "pg_relation_size('ix_history_points_ts'), "
                "(SELECT count(*) FROM history_points)"
            )
        ).one()
    engine.dispose()
    table, key, brin, count = (float(v) for v in row)
    return {"table": table / count, "pkey": key / count, "ts_index": brin / count, "rows": count}


def sqlite_sizes(path: Path) -> dict[str, float]:
    import sqlite3

    with sqlite3.connect(path) as connection:
        count = connection.execute("SELECT count(*) FROM history_points").fetchone()[0]
        try:  # dbstat: bytes per b-tree, where the SQLite build has it
            sizes = dict(
                connection.execute(
                    "SELECT name, sum(pgsize) FROM dbstat "
                    "WHERE name IN ('history_points', 'ix_history_points_ts') GROUP BY name"
                ).fetchall()
            )
        except sqlite3.OperationalError:
            sizes = {"history_points": path.stat().st_size, "ix_history_points_ts": 0}
    return {
        "table": sizes.get("history_points", 0) / count,  # WITHOUT ROWID: the table is the key
        "ts_index": sizes.get("ix_history_points_ts", 0) / count,
        "rows": float(count),
    }


def measure(kind: str, points: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        if kind == "postgresql":
            url, drop = fresh_postgres()
        else:
            url, drop = f"sqlite:///{Path(folder) / 'history.db'}", (lambda: None)
        try:
            seconds = write(url, points)
            sizes = pg_sizes(url) if kind == "postgresql" else sqlite_sizes(Path(url[10:]))
            # baseline and repeat on the same (now big) table: the same index depth
            base = write(url, BASELINE_POINTS, baseline=True, offset=5e8)
            ours = write(url, BASELINE_POINTS, offset=6e8)
        finally:
            drop()
    return {
        **sizes,
        "rate": points / seconds,
        "rate_large_table": BASELINE_POINTS / ours,
        "baseline_rate": BASELINE_POINTS / base,
    }


def hot_path(calls: int) -> tuple[float, float]:
    """Microseconds per answer_counted with history off and on (median of rounds)."""
    from seriesguard.api.routes.predict import answer_counted
    from seriesguard.core.detectors import ZScoreDetector
    from seriesguard.history.recorder import HistoryRecorder
    from seriesguard.serving.scorer import production_scorer
    from seriesguard.serving.stats import StatsRecorder

    class Resident:
        def __init__(self, history: HistoryRecorder) -> None:
            self.stats = StatsRecorder(source="bench", max_series=10)
            self.history = history

    scorer = production_scorer(
        ZScoreDetector(mean=10.0, std=2.0),
        series_id="s1",
        version=1,
        origin="catalog",
        loaded_from="memory",
    )
    off = Resident(HistoryRecorder(max_pending=1, enabled=False))
    on = Resident(HistoryRecorder(max_pending=10 * calls))
    rounds: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(7):
        for name, predictor in (("off", off), ("on", on)):
            started = time.perf_counter()
            for i in range(calls):
                answer_counted(predictor, "s1", 1.9e9 + i, 11.0, scorer, started=started)  # type: ignore[arg-type]
            rounds[name].append((time.perf_counter() - started) / calls * 1e6)
            on.history.collect()
    return float(np.median(rounds["off"])), float(np.median(rounds["on"]))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=2_000_000)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--db", action="append", choices=("postgresql", "sqlite"))
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    figures: list[Figure] = []
    off, on = hot_path(args.calls)
    figures.append(
        Figure(
            id="history.hot_path_us",
            title="answer_counted (score + answer + statistics + history), per call",
            value=on,
            unit="us",
            baseline=off,
            baseline_label="the same with the history recorder off",
            notes=f"recording adds {on - off:.2f} us per predict",
        )
    )
    for kind in args.db or ("postgresql", "sqlite"):
        m = measure(kind, args.points)
        per_point = m["table"] + m.get("pkey", 0.0) + m["ts_index"]
        parts = f"table {m['table']:.1f}" + (f" + pkey {m['pkey']:.1f}" if "pkey" in m else "")
        figures += [
            Figure(
                id=f"history.{kind}.bytes_per_point",
                title=f"{kind}: bytes per stored point ({int(m['rows']):,} points)",
                value=per_point,
                unit="B",
                notes=f"{parts} + ts index {m['ts_index']:.2f}; 3.45 billion points (14 days at "
                f"the seed's peak) = {per_point * 3.45e9 / 1e12:.2f} TB",
            ),
            Figure(
                id=f"history.{kind}.insert_rate",
                title=f"{kind}: flusher path, points/s into a table of {args.points:,}",
                value=m["rate_large_table"],
                unit="points/s",
                better="higher",
                baseline=m["baseline_rate"],
                baseline_label="SQLAlchemy executemany INSERT ... ON CONFLICT DO NOTHING",
                notes=f"filling the empty table: {m['rate']:,.0f} points/s; the seed's peak "
                "needs 2,850",
            ),
        ]
    publish("history", figures)


if __name__ == "__main__":
    main()
