"""Fleet scale: bulk import, warm start, memory per model, cache hit rate, 1k -> 285k scaling.

One fleet home is grown step by step (1k, 10k, 100k, 285k production models by default, each
model imported once through `seriesguard models import`'s code). At each size:
- import throughput of that step (models/s);
- warm start: a fresh `seriesguard predictor` process, from spawn to /api/v1/readiness = 200
  (the whole catalog loaded into memory), and its resident memory once ready;
- memory per resident model: (RSS at this size - RSS of a predictor on an empty fleet) / size;
- optionally, HTTP single predict at this size (`bench_serving.measure_predict`, if present).
At the largest size, the cache hit rate of models too large to stay resident (all of them
forced into the LRU of CACHE_SIZE) under a Zipf request mix, in process.

Baseline for import: the registry API path (`MlflowClient` registration, what a migration
without the bulk path does), timed on a few hundred models in the same run.

    .venv/bin/python benchmarks/bench_fleet.py [--sizes 1000,10000,100000,285000] [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fleet import Quiet, build_fleet, series_ids, write_import_file
from benchmarks.results import Figure, publish

DEFAULT_SIZES = (1_000, 10_000, 100_000, 285_000)
FLEET_HOME = Path(__file__).resolve().parent / ".fleet"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Predictor:
    """A `seriesguard predictor` process on a home; knows how long it took to be ready."""

    def __init__(self, home: Path, *, extra_env: dict[str, str] | None = None) -> None:
        self.home, self.port = home, free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        env.update(
            {"SERIESGUARD_HOME": str(home), "SERIESGUARD_LOG_LEVEL": "WARNING", **(extra_env or {})}
        )
        started = time.perf_counter()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "seriesguard", "predictor", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.ready_seconds = self._wait_ready(started)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self, started: float, timeout: float = 300) -> float:
        deadline = started + timeout
        while time.perf_counter() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"predictor exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/api/v1/readiness", timeout=1).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError("predictor not ready")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def api_path_rate(count: int) -> float:
    """Baseline: models/s through the registry API, one model at a time (``--no-bulk``)."""
    from seriesguard.model_import.runner import run_import
    from seriesguard.settings import Settings

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        source = home / "m.jsonl"
        write_import_file(source, start=0, stop=count)
        started = time.perf_counter()
        run_import(
            settings=Settings(home=home),
            path=source,
            stage_name="production",
            default_algorithm="statistical",
            chunk_size=500,
            progress=Quiet(),
            use_bulk=False,
        )
        return count / (time.perf_counter() - started)


def zipf_hit_rates(home: Path, *, cache_sizes: list[int], requests: int) -> list[dict[str, Any]]:
    """Every model forced into the LRU (as if too large to stay resident), requests drawn
    from a Zipf law (s = 1) over the fleet, through the predictor's real lookup chain."""
    from seriesguard.runtime import Role, build_runtime
    from seriesguard.serving.model_table import ModelTable
    from seriesguard.settings import Settings

    ids = series_ids(int((home / "fleet-size").read_text()))
    rng = np.random.default_rng(7)
    weights = 1.0 / np.arange(1, len(ids) + 1)
    order = rng.permutation(len(ids))  # popular series are spread over the catalog
    draws = order[rng.choice(len(ids), size=requests, p=weights / weights.sum())]
    out = []
    for size in cache_sizes:
        runtime = build_runtime(Settings(home=home), roles=frozenset({Role.PREDICTOR}))
        runtime.predictor.table = ModelTable(lru_size=size, resident_max_bytes=0)
        predictor = runtime.predictor
        warm = draws[: requests // 5]  # the first fifth fills the cache; not counted
        for index in warm:
            predictor.scorer(ids[index])
        table = predictor.table
        table.hits = table.misses = 0
        started = time.perf_counter()
        for index in draws[requests // 5 :]:
            predictor.scorer(ids[index])
        seconds = time.perf_counter() - started
        counted = table.hits + table.misses
        out.append(
            {
                "cache_size": size,
                "hit_rate": table.hits / counted,
                "us_per_request": seconds / counted * 1e6,
            }
        )
        runtime.engine.dispose()
    return out


def measure_serving(url: str, ids: list[str]) -> dict[str, float] | None:
    try:
        from benchmarks.bench_serving import measure_predict  # type: ignore[attr-defined]
    except ImportError:
        return None
    result: dict[str, float] = measure_predict(url, ids)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES))
    parser.add_argument("--home", type=Path, default=FLEET_HOME)
    parser.add_argument("--fresh", action="store_true", help="Start from an empty fleet home.")
    parser.add_argument("--zipf-requests", type=int, default=100_000)
    parser.add_argument("--cache-sizes", default="100,1000,10000")
    parser.add_argument("--api-baseline-models", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if args.fresh and args.home.exists():
        shutil.rmtree(args.home)
    figures: list[Figure] = []

    baseline_rate = api_path_rate(args.api_baseline_models)
    with tempfile.TemporaryDirectory() as empty:
        idle = Predictor(Path(empty))
        rss_empty = rss_mib(idle.process.pid)
        idle.stop()
    print(f"predictor on an empty fleet: {rss_empty:.0f} MiB")

    previous = 0
    for size in sizes:
        build_fleet(args.home, size)
        step_seconds = float((args.home / "fleet-import-seconds").read_text())
        predictor = Predictor(args.home)
        rss = rss_mib(predictor.process.pid)
        serving = measure_serving(predictor.url, series_ids(size))
        predictor.stop()
        per_model = (rss - rss_empty) * 2**20 / size
        print(
            f"{size:>7,} series: warm start {predictor.ready_seconds:.2f} s, RSS {rss:.0f} MiB "
            f"({per_model:.0f} B/model)"
        )
        figures += _size_figures(
            size=size,
            imported=size - previous,
            step_seconds=step_seconds,
            ready=predictor.ready_seconds,
            rss=rss,
            per_model=per_model,
            serving=serving,
            baseline_rate=baseline_rate,
        )
        previous = size

    largest = sizes[-1]
    for row in zipf_hit_rates(
        args.home,
        cache_sizes=[int(s) for s in args.cache_sizes.split(",")],
        requests=args.zipf_requests,
    ):
        figures.append(
            Figure(
                id=f"fleet.zipf_hit_rate.cache_{row['cache_size']}",
                title=f"cache hit rate, Zipf(s=1) over {largest:,} large models, "
                f"CACHE_SIZE={row['cache_size']:,}",
                value=round(100 * row["hit_rate"], 1),
                unit="%",
                better="higher",
                notes=f"{row['us_per_request']:.0f} us per request incl. misses from the catalog",
            )
        )
    publish("fleet", figures)


def _size_figures(
    *,
    size: int,
    imported: int,
    step_seconds: float,
    ready: float,
    rss: float,
    per_model: float,
    serving: dict[str, float] | None,
    baseline_rate: float,
) -> list[Figure]:
    figures = [
        Figure(
            id=f"fleet.import_rate.{size}",
            title="bulk import (`seriesguard models import`)",
            value=imported / step_seconds,
            unit="models/s",
            better="higher",
            baseline=baseline_rate,
            baseline_label="registry API path, one model at a time",
            fleet=size,
        ),
        Figure(
            id=f"fleet.warm_start.{size}",
            title="warm start: predictor process spawn -> ready, all models resident",
            value=ready,
            unit="s",
            target=30.0,
            target_label="< 30 s at 285k",
            fleet=size,
        ),
        Figure(
            id=f"fleet.rss.{size}",
            title="predictor resident memory when ready",
            value=rss,
            unit="MiB",
            target=1024.0,
            target_label="< 1 GB at 285k",
            fleet=size,
        ),
        Figure(
            id=f"fleet.bytes_per_model.{size}",
            title="memory per resident statistical model",
            value=per_model,
            unit="bytes",
            fleet=size,
        ),
    ]
    for key, value in (serving or {}).items():
        figures.append(
            Figure(id=f"fleet.{key}.{size}", title=key, value=value, unit="", fleet=size)
        )
    return figures


if __name__ == "__main__":
    main()
