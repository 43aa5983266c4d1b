"""HTTP single predict under load, 285k series with production models, side by side.

Builds (once, kept under ``benchmarks/out/serving-fleet/<size>``) a fleet of production models
through ``seriesguard models import``, starts ``seriesguard predictor --home <fleet>`` and drives
it from a separate load-generator process (``benchmarks/loadgen.py``, raw asyncio HTTP/1.1).
In the same run, interleaved in rounds so that a busy moment of a shared machine hits all alike:

- the floor: seriesguard's server stack answering a constant (``benchmarks/floor_server.py``),
  and the bare liveness route of the predictor itself (the cheapest route through FastAPI);
- predict over uniform random series, closed loop (saturation);
then predict at a fixed 2,850 req/s (the seed's peak), open loop, latency from each request's due
time (queueing included); the same two runs against a predictor whose predicts all go through
FastAPI's routing (``SERIESGUARD_FAST_PREDICT=false``); and the baseline, the seed's design
(``benchmarks/seed_predictor.py``: FastAPI + LRU(100) of ``mlflow.pyfunc`` models) over random
series of the same fleet, closed loop.

Server CPU per response (from /proc, all its processes) is reported beside each rate: unlike the
rate it barely depends on what else the machine is doing. ``--fleet-sizes`` adds the scaling
rows (predict saturation and p99 at the fixed rate at each size).

    .venv/bin/python benchmarks/bench_serving.py [--series 285000] [--workers 1]
        [--fleet-sizes 1000,10000,100000,285000] [--duration 12] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fleet import build_fleet
from benchmarks.results import publish
from benchmarks.serving_figures import SEED_PEAK, figures
from benchmarks.serving_procs import ServerProcess, combined, free_port, loadgen, measured

BENCH = Path(__file__).resolve().parent
FLEET_ROOT = BENCH / "out" / "serving-fleet"


def start_predictor(home: Path, *, workers: int, fast: bool = True) -> ServerProcess:
    env = {
        "SERIESGUARD_HOME": str(home),
        "SERIESGUARD_LOG_LEVEL": "INFO",  # uvicorn's start-up line tells each worker is warm
        "SERIESGUARD_FAST_PREDICT": str(fast).lower(),
    }
    port = free_port()
    command = ["-m", "seriesguard", "predictor", "--port", str(port), "--workers", str(workers)]
    log = home / f"bench-predictor{'' if fast else '-route'}.log"
    return ServerProcess.start(command, env=env, port=port, log=log, workers=workers)


def start_script(script: str, home: Path, *extra: str) -> ServerProcess:
    port = free_port()
    command = [str(BENCH / script), "--port", str(port), *extra]
    log = home / f"bench-{script.removesuffix('.py')}.log"
    return ServerProcess.start(command, env={}, port=port, log=log, workers=0)


def saturation(
    servers: dict[str, ServerProcess], series_file: Path, *, rounds: int, seconds: float, c: int
) -> dict[str, dict[str, Any]]:
    """Closed loop, ``rounds`` of: the floor, the liveness route, predict (interleaved)."""
    common = {"connections": c, "duration": seconds, "warmup": 1.0}
    runs: dict[str, list[dict[str, Any]]] = {"floor": [], "liveness": [], "predict": []}
    for _ in range(rounds):
        if "floor" in servers:
            runs["floor"].append(measured(servers["floor"], path="/", **common))
        predictor = servers["predictor"]
        runs["liveness"].append(measured(predictor, path="/api/v1/liveness", **common))
        runs["predict"].append(measured(predictor, series_file=series_file, **common))
    return {name: combined(reports) for name, reports in runs.items() if reports}


def fixed_rate(
    server: ServerProcess, series_file: Path, *, rate: float, seconds: float
) -> dict[str, Any]:
    return measured(
        server,
        series_file=series_file,
        mode="open",
        rate=rate,
        duration=seconds,
        warmup=2.0,
        connections=64,
    )


def measure_predict(url: str, ids: list[str], *, seconds: float = 5.0) -> dict[str, float]:
    """Predict saturation and p99 at the seed's peak against a running predictor (used by
    ``bench_fleet`` at each fleet size)."""
    with tempfile.TemporaryDirectory() as folder:
        series_file = Path(folder) / "series.txt"
        series_file.write_text("\n".join(ids) + "\n")
        common = {"series_file": series_file, "duration": seconds, "warmup": 1.0}
        closed = loadgen(url, connections=32, **common)
        opened = loadgen(url, mode="open", rate=SEED_PEAK, connections=64, **common)
    return {
        "predict_saturation_rps": closed["rate"],
        "predict_p99_ms_at_2850": opened["p99_ms"],
    }


def run_size(size: int, *, args: argparse.Namespace, main: bool) -> dict[str, Any]:
    """Everything measured at one fleet size (the main size gets the full runs)."""
    home = args.home if main and args.home else args.home_root / str(size)
    ids = build_fleet(home, size)
    series_file = home / "series.txt"
    series_file.write_text("\n".join(ids) + "\n")
    rounds, seconds = (args.rounds, args.duration / args.rounds) if main else (1, 4.0)
    servers = {"predictor": start_predictor(home, workers=args.workers)}
    print(f"{size:,} series: predictor ready in {servers['predictor'].ready_seconds:.1f} s")
    try:
        if main:
            servers["floor"] = start_script("floor_server.py", home)
        result = saturation(
            servers, series_file, rounds=rounds, seconds=seconds, c=args.connections
        )
        fixed_seconds = args.duration if main else 6.0
        result["fixed"] = fixed_rate(
            servers["predictor"], series_file, rate=args.rate, seconds=fixed_seconds
        )
    finally:
        for server in servers.values():
            server.stop()
    result["ready_s"] = servers["predictor"].ready_seconds
    print(f"  {json.dumps(result)}", flush=True)
    if main:
        result["route"] = framework_route(home, series_file, args=args)
        if not args.no_seed:
            result["seed"] = seed_baseline(home, series_file, args=args)
    return result


def framework_route(home: Path, series_file: Path, *, args: argparse.Namespace) -> dict[str, Any]:
    """The same predictor with every predict through FastAPI's routing (fast path off)."""
    server = start_predictor(home, workers=args.workers, fast=False)
    try:
        closed = combined(
            [
                measured(
                    server,
                    series_file=series_file,
                    connections=args.connections,
                    duration=args.duration / args.rounds,
                    warmup=1.0,
                )
            ]
        )
        fixed = fixed_rate(server, series_file, rate=args.rate, seconds=args.duration)
    finally:
        server.stop()
    result = {"predict": closed, "fixed": fixed}
    print(f"  predicts through the framework: {json.dumps(result)}", flush=True)
    return result


def seed_baseline(home: Path, series_file: Path, *, args: argparse.Namespace) -> dict[str, Any]:
    server = start_script(
        "seed_predictor.py", home, "--home", str(home), "--warm", str(series_file)
    )
    try:
        report = measured(
            server,
            series_file=series_file,
            connections=args.connections,
            duration=args.seed_seconds,
            warmup=2.0,
        )
    finally:
        server.stop()
    print(f"  seed baseline: {json.dumps(report)}", flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=285_000)
    parser.add_argument("--fleet-sizes", help="comma-separated sizes for the scaling rows")
    parser.add_argument("--workers", type=int, default=1, help="predictor processes")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=12.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved saturation rounds")
    parser.add_argument("--rate", type=float, default=SEED_PEAK)
    parser.add_argument("--seed-seconds", type=float, default=6.0)
    parser.add_argument("--no-seed", action="store_true", help="skip the seed baseline")
    parser.add_argument("--home-root", type=Path, default=FLEET_ROOT)
    parser.add_argument(
        "--home", type=Path, help="fleet home of the main size (grown to --series if smaller)"
    )
    parser.add_argument("--no-publish", action="store_true", help="print, keep results.json")
    args = parser.parse_args()
    sizes = sorted({args.series, *(int(s) for s in (args.fleet_sizes or "").split(",") if s)})
    results = {size: run_size(size, args=args, main=size == args.series) for size in sizes}
    found = figures(args.series, results, rate=args.rate, workers=args.workers)
    if args.no_publish:
        print("\n".join(figure.line() for figure in found))
    else:
        publish("serving", found)


if __name__ == "__main__":
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # each server uses its own home's store
    main()
