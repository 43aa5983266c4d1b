"""Monitoring costs: the fleet drift check over 285,000 series, and what counting every
prediction per series costs the predictor.

1. Fleet drift check, on PostgreSQL and on SQLite (the embedded default). A metadata DB
   holding 285,000 series, each with a trained version
   and its reference histogram, and 24 hourly statistics rows per series (6.84M rows, as
   one predictor pod writes them in a day; the last 1% of series drifted in data, 1% in
   anomaly rate). Timed: ``FleetDriftCheck.run(window_hours=24)``, every series judged.
   Baseline in the same run: the seed's way, one ``GET /models/{id}/metrics`` per series
   (the service behind it, for a sample of series, scaled to the fleet).
2. Statistics overhead. One ``seriesguard predictor`` on a fleet of models with references,
   saturated by ``loadgen.py`` with single predicts (closed loop, 32 connections), with the
   per-series statistics on and off (``SERIESGUARD_STATS_ENABLED``), alternated.

    .venv/bin/python benchmarks/bench_monitoring.py [--series 285000] [--db postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fleet import build_fleet
from benchmarks.results import Figure, publish
from benchmarks.serving_procs import ServerProcess, free_port, measured

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
HOURS = 24
REFERENCE_JSON = (
    '{"edges": [-1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816], '
    '"counts": [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000], '
    '"n_points": 10000, "anomaly_rate": 0.0027}'
)


def fleet_database(kind: str, folder: Path) -> tuple[str, Any]:
    """(URL, cleanup) of an empty database of ``kind``."""
    from sqlalchemy import create_engine, text

    if kind == "sqlite":
        return f"sqlite:///{folder / 'fleet.db'}", lambda: None
    name = f"sg_bench_{os.getpid()}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return PG_SERVER.rsplit("/", 1)[0] + f"/{name}", drop


def fill(url: str, series: int) -> float:
    """Write the fleet's versions and a day of hourly rows in the DB itself; seconds taken."""
    from sqlalchemy import text

    from seriesguard.core.monitoring import hour_of
    from seriesguard.store.db import create_db_engine, upgrade

    engine = create_db_engine(url)
    upgrade(engine)
    last = hour_of(time.time())
    started = time.perf_counter()
    numbers = (
        "SELECT generate_series(0, :n - 1) AS i"
        if url.startswith("postgresql")
        else "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < :n - 1) "
        "SELECT i FROM s"
    )
    hours = (
        "SELECT generate_series(:first, :last) AS h"
        if url.startswith("postgresql")
        else "WITH RECURSIVE t(h) AS (SELECT :first UNION ALL SELECT h + 1 FROM t WHERE h < :last) "
        "SELECT h FROM t"
    )
    name = (
        "'sensor-' || lpad(CAST(i AS TEXT), 7, '0')"
        if url.startswith("postgresql")
        else ("'sensor-' || substr('0000000' || i, -7, 7)")
    )
    # PostgreSQL types the parameter as text; SQLite keeps JSON as text (its CAST AS JSON
    # would make a number of it).
    reference = "CAST(:reference AS JSON)" if url.startswith("postgresql") else ":reference"
    drifted = series - series // 100  # the last 1%: inputs shifted
    tripled = drifted - series // 100  # the 1% before: anomaly rate tripled
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO model_versions (series_id, version, stage, algorithm, params, "
                "metrics, created_at, reference) "
                f"SELECT {name}, 1, 'Production', 'statistical', "
                "'{\"mean\": 0.0, \"std\": 1.0}', '{}', 0, "
                + reference
                + " FROM ("
                + numbers
                + ") n"
            ),
            {"n": series, "reference": REFERENCE_JSON},
        )
        # ~60 predictions per hour per series; bins flat (stable), or piled in the top bins
        # (drifted); anomalies 0.27 % of them, or 0.8 % (tripled over the day).
        connection.execute(
            text(
                "INSERT INTO series_stats (series_id, version, hour, source, requests, errors, "
                "anomalies, latency, in_bin_0, in_bin_1, in_bin_2, in_bin_3, in_bin_4, "
                "in_bin_5, in_bin_6, in_bin_7, in_bin_8, in_bin_9) "
                f"SELECT {name}, 1, h, 'pod-a', 60, 0, "
                "CASE WHEN i >= :tripled AND i < :drifted THEN (h % 2) "
                "WHEN h % 6 = 0 THEN 1 ELSE 0 END, '{\"100\": 60}', "
                "CASE WHEN i >= :drifted THEN 0 ELSE 6 END, "
                "CASE WHEN i >= :drifted THEN 0 ELSE 6 END, "
                "CASE WHEN i >= :drifted THEN 0 ELSE 6 END, "
                "CASE WHEN i >= :drifted THEN 0 ELSE 6 END, "
                "CASE WHEN i >= :drifted THEN 0 ELSE 6 END, "
                "CASE WHEN i >= :drifted THEN 0 ELSE 6 END, "
                "CASE WHEN i >= :drifted THEN 10 ELSE 6 END, "
                "CASE WHEN i >= :drifted THEN 10 ELSE 6 END, "
                "CASE WHEN i >= :drifted THEN 20 ELSE 6 END, "
                "CASE WHEN i >= :drifted THEN 20 ELSE 6 END "
                "FROM (" + numbers + ") n CROSS JOIN (" + hours + ") t"
            ),
            {
                "n": series,
                "first": last - HOURS + 1,
                "last": last,
                "drifted": drifted,
                "tripled": tripled,
            },
        )
    if url.startswith("postgresql"):
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    return time.perf_counter() - started


def time_fleet_check(url: str, series: int, sample: int) -> dict[str, Any]:
    from seriesguard.monitoring.fleet import FleetDriftCheck
    from seriesguard.monitoring.service import DriftPolicy, MonitoringService
    from seriesguard.store.catalog import CatalogRepository
    from seriesguard.store.db import create_db_engine, session_factory
    from seriesguard.store.drift import DriftRepository
    from seriesguard.store.feedback import FeedbackRepository
    from seriesguard.store.stats import SeriesStatsRepository

    engine = create_db_engine(url)
    sessions = session_factory(engine)
    stats, catalog = SeriesStatsRepository(sessions), CatalogRepository(sessions)
    check = FleetDriftCheck(
        stats=stats, catalog=catalog, runs=DriftRepository(sessions), policy=DriftPolicy()
    )
    started = time.perf_counter()
    run = check.run(window_hours=HOURS, triggered_by="benchmark")
    seconds = time.perf_counter() - started
    service = MonitoringService(
        stats=stats, feedback=FeedbackRepository(sessions), catalog=catalog, policy=DriftPolicy()
    )
    step = max(series // sample, 1)
    ids = [f"sensor-{i:07d}" for i in range(0, series, step)][:sample]
    started = time.perf_counter()
    flagged = 0
    for series_id in ids:
        drift = service.series_metrics(series_id=series_id, window_seconds=HOURS * 3600)
        flagged += drift["drift_detection"]["data_drift_detected"]
    per_series = (time.perf_counter() - started) / len(ids)
    engine.dispose()
    expected = series // 100
    if run.series_checked != series or run.data_drifted != expected:
        raise RuntimeError(f"wrong verdicts: {run}")
    if run.concept_drifted < expected:
        raise RuntimeError(f"tripled anomaly rates missed: {run}")
    return {
        "seconds": seconds,
        "run": run,
        "per_series_seconds": per_series,
        "sample": len(ids),
    }


def in_process_costs(home: Path, ids: list[str], *, requests: int, rate: float) -> dict[str, float]:
    """Microseconds per fast-path predict, statistics off and on, driven in this process
    (no network, no other process: the noise of a shared machine mostly averages out), and
    the flush's share: one flush of every series that answered, spread over the requests a
    flush interval holds at ``rate``."""
    import asyncio
    import random

    from seriesguard.api.fast_predict import FastPredictMiddleware
    from seriesguard.api.security import PRINCIPAL
    from seriesguard.core.authz import LOCAL_OPERATOR
    from seriesguard.runtime import Role, build_runtime
    from seriesguard.serving.stats import DisabledStats
    from seriesguard.settings import Settings
    from seriesguard.store.db import upgrade

    settings = Settings(home=home)
    runtime = build_runtime(settings, roles=frozenset({Role.PREDICTOR}))
    upgrade(runtime.engine)
    runtime.predictor.warm_load()
    rng = random.Random(0)
    calls = []
    for index in range(requests):
        body = b'{"timestamp":%d,"value":%.4f}' % (1_700_000_000 + index, rng.gauss(0.0, 1.5))
        scope = {
            "type": "http",
            "method": "POST",
            "path": f"/api/v1/predict/{rng.choice(ids)}",
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
            PRINCIPAL: LOCAL_OPERATOR,
        }
        calls.append((scope, {"type": "http.request", "body": body, "more_body": False}))

    async def send(message: Any) -> None:
        return None

    async def drive() -> float:
        fast = FastPredictMiddleware(None, predictor=runtime.predictor)  # type: ignore[arg-type]
        started = time.process_time()
        for scope, message in calls:

            async def receive(message: Any = message) -> Any:
                return message

            await fast(scope, receive, send)
        return (time.process_time() - started) / len(calls) * 1e6

    recorder = runtime.predictor.stats
    disabled = DisabledStats(source="off", max_series=1)
    offs, ons = [], []
    for _ in range(7):  # alternated, medians: the machine's neighbours hit both alike
        runtime.predictor.stats = disabled
        offs.append(asyncio.run(drive()))
        runtime.predictor.stats = recorder
        ons.append(asyncio.run(drive()))
    off, on = statistics.median(offs), statistics.median(ons)
    started = time.process_time()
    assert runtime.monitoring_parts.flusher.flush()
    flush = time.process_time() - started
    per_flush = rate * settings.stats_flush_seconds  # requests between two flushes
    runtime.engine.dispose()
    share = flush / per_flush * 1e6
    return {"off": off, "on": on, "flush_s": flush, "flush_share": share}


def saturate(home: Path, series_file: Path, *, stats: bool, duration: float) -> dict[str, Any]:
    port = free_port()
    server = ServerProcess.start(
        ["-m", "seriesguard", "predictor", "--port", str(port)],
        env={
            "SERIESGUARD_HOME": str(home),
            "SERIESGUARD_LOG_LEVEL": "INFO",
            "SERIESGUARD_STATS_ENABLED": "true" if stats else "false",
        },
        port=port,
        log=home / f"predictor-{port}.log",
        workers=1,
    )
    try:
        report = measured(
            server, series_file=series_file, connections=32, duration=duration, warmup=1.0
        )
    finally:
        server.stop()
    if report["non_2xx"] or report["transport_errors"]:
        raise RuntimeError(f"failed requests under load: {report['statuses']}")
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=285_000)
    parser.add_argument(
        "--db",
        choices=("postgresql", "sqlite"),
        action="append",
        help="metadata DB of the fleet check (repeatable); default both",
    )
    parser.add_argument("--sample", type=int, default=500, help="series timed one by one")
    parser.add_argument("--serving-series", type=int, default=10_000)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=("fleet", "serving"), help="one half of the benchmark")
    args = parser.parse_args()
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    figures = []
    with tempfile.TemporaryDirectory() as folder:
        if args.only != "serving":
            for kind in args.db or ("postgresql", "sqlite"):
                figures.append(fleet_figure(args, Path(folder), kind))
        if args.only != "fleet":
            figures.extend(serving_figures(args, Path(folder)))
    publish("monitoring", figures)


def fleet_figure(args: argparse.Namespace, folder: Path, kind: str) -> Figure:
    url, drop = fleet_database(kind, folder)
    try:
        fill_seconds = fill(url, args.series)
        print(f"  {args.series:,} series x {HOURS} h written in {fill_seconds:.0f} s")
        check = time_fleet_check(url, args.series, args.sample)
    finally:
        drop()
    run = check["run"]
    scaled = check["per_series_seconds"] * args.series
    return Figure(
        id=f"monitoring.fleet_drift_check_{kind}_s",
        title=f"fleet drift check, {args.series:,} series x {HOURS} hourly rows ({kind})",
        value=check["seconds"],
        unit="s",
        baseline=scaled,
        baseline_label=f"one metrics read per series (seed DAG), "
        f"{check['per_series_seconds'] * 1000:.1f} ms each over {check['sample']} "
        "series, scaled to the fleet",
        target=60.0,
        target_label="< 60 s",
        notes=f"{run.data_drifted:,} data and {run.concept_drifted:,} concept drift "
        f"found; {args.series * HOURS / check['seconds']:,.0f} rows/s",
    )


def serving_figures(args: argparse.Namespace, folder: Path) -> list[Figure]:
    home = folder / "home"
    ids = build_fleet(home, args.serving_series, centred=True)
    series_file = folder / "series.txt"
    series_file.write_text("\n".join(ids) + "\n")
    on, off = [], []
    for _ in range(args.rounds):  # alternated: drift of the machine hits both alike
        off.append(saturate(home, series_file, stats=False, duration=args.duration))
        on.append(saturate(home, series_file, stats=True, duration=args.duration))
    # Medians: one round in several is hit by the machine's neighbours.
    on_rate = statistics.median(r["rate"] for r in on)
    off_rate = statistics.median(r["rate"] for r in off)
    on_cpu = statistics.median(r["server_cpu_us"] for r in on)
    off_cpu = statistics.median(r["server_cpu_us"] for r in off)
    where = f"{args.serving_series:,} series, 32 connections, closed loop"
    rate = Figure(
        id="monitoring.predict_with_stats_rps",
        title=f"single predict saturation with per-series statistics ({where})",
        value=on_rate,
        unit="req/s",
        better="higher",
        baseline=off_rate,
        baseline_label="same predictor, statistics off (SERIESGUARD_STATS_ENABLED=false)",
        target=0.9 * off_rate,
        target_label="cost <= 10 %",
        notes=f"median of {args.rounds} alternated rounds; on {[round(r['rate']) for r in on]}, "
        f"off {[round(r['rate']) for r in off]}",
    )
    costs = in_process_costs(home, ids, requests=100_000, rate=on_rate)
    added = costs["on"] - costs["off"] + costs["flush_share"]
    in_process = Figure(
        id="monitoring.stats_cpu_per_predict_us",
        title="CPU the per-series statistics add to one predict (in process: counting, and "
        "the flush's share)",
        value=added,
        unit="us",
        target=0.1 * off_cpu,
        target_label=f"<= 10 % of a predict's server CPU ({off_cpu:.0f} us, statistics off)",
        notes=f"fast path in process {costs['off']:.2f} -> {costs['on']:.2f} us per predict; "
        f"one flush of {args.serving_series:,} series {costs['flush_s'] * 1000:.0f} ms of CPU, "
        f"{costs['flush_share']:.2f} us per predict at {on_rate:,.0f} predicts/s and a "
        "flush every 10 s",
    )
    cpu = Figure(
        id="monitoring.predict_cpu_with_stats_us",
        title="server CPU per single predict with per-series statistics (flushes included)",
        value=on_cpu,
        unit="us",
        baseline=off_cpu,
        baseline_label="statistics off",
        target=1.1 * off_cpu,
        target_label="cost <= 10 %",
        notes=f"on {[r['server_cpu_us'] for r in on]}, off {[r['server_cpu_us'] for r in off]}",
    )
    return [rate, cpu, in_process]


if __name__ == "__main__":
    main()
