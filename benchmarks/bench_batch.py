"""Batch predict: 1M points over 10k series, scored in process and end to end over HTTP.

Fleet: ``build_fleet`` imports N production models (z-score, each its own mean and std) into
MLflow and the catalog of a home; every figure below scores the same points with them.

(i)   baseline, same run: the numpy scoring loop alone, per series
      ``np.abs(v - mean) / std > threshold`` with the params from a dict; nothing else.
(ii)  in process, the code the route runs (``serving.batch`` + ``api.batch_schemas``):
      scoring alone from arrays (resolve each series' model once, one vectorised call per
      series), then from request bytes to answer bytes for the Arrow and the JSON body.
(iii) over HTTP against a ``seriesguard predictor --home`` subprocess, one request per batch
      through ``SeriesguardClient``, client encode and answer decode included: the JSON body
      (``predict_batch``) and the Arrow body (``predict_batch_arrow``).

Targets from the issue (2-core machine): >= 1M points/s scored in the server, >= 200k
points/s end to end over HTTP with the columnar body. Median of ``--repeat`` runs.

    .venv/bin/python benchmarks/bench_batch.py [--series 10000] [--points 100] [--repeat 3]
                                               [--home DIR]  # reuse a fleet between runs
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.fleet import build_fleet
from benchmarks.results import Figure, publish
from tests.e2e.harness import Server

from seriesguard.api import batch_schemas
from seriesguard.client import SeriesguardClient
from seriesguard.client_arrow import encode_arrow_batch
from seriesguard.runtime import build_runtime
from seriesguard.serving.batch import score_batch
from seriesguard.serving.predictor import Predictor
from seriesguard.settings import Settings

SCORING_TARGET = 1_000_000.0
HTTP_TARGET = 200_000.0
EPOCH = 1_700_000_000


@dataclass
class Batch:
    """The points of the run, in the shapes each client holds them."""

    ids: list[str]
    params: dict[str, dict[str, float]]
    timestamps: np.ndarray  # (series, points) epoch seconds
    values: np.ndarray  # (series, points)

    @property
    def size(self) -> int:
        return int(self.values.size)

    def json_items(self) -> list[dict[str, Any]]:
        return [
            {"series_id": sid, "timestamps": self.timestamps[i], "values": self.values[i]}
            for i, sid in enumerate(self.ids)
        ]

    def arrow_table(self) -> pa.Table:
        """Rows grouped per series, ids dictionary-encoded (what a data tool holds)."""
        per_series = self.values.shape[1]
        codes = np.repeat(np.arange(len(self.ids), dtype=np.int32), per_series)
        return pa.table(
            {
                "series_id": pa.DictionaryArray.from_arrays(codes, pa.array(self.ids)),
                "timestamp": self.timestamps.ravel(),
                "value": self.values.ravel(),
            }
        )


def make_batch(ids: list[str], params: dict[str, dict[str, float]], points: int) -> Batch:
    """Each series drawn from its own model's distribution, 1% of points pushed far out;
    values with 3 decimals, as sensors report them."""
    rng = np.random.default_rng(7)
    means = np.array([params[s]["mean"] for s in ids])[:, None]
    stds = np.array([params[s]["std"] for s in ids])[:, None]
    noise = rng.normal(0.0, 1.0, (len(ids), points))
    noise[rng.random(noise.shape) < 0.01] *= 6
    values = np.round(means + stds * noise, 3)
    timestamps = np.broadcast_to(EPOCH + 60 * np.arange(points), values.shape).copy()
    return Batch(ids=ids, params=params, timestamps=timestamps, values=values)


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def numpy_loop(batch: Batch) -> Callable[[], object]:
    rows = list(zip(batch.ids, batch.values, strict=True))

    def run() -> int:
        flagged = 0
        for sid, values in rows:
            p = batch.params[sid]
            scores = np.abs(values - p["mean"]) / p["std"]
            flagged += int(np.count_nonzero(scores > p["threshold_sigma"]))
        return flagged

    return run


def in_process(predictor: Predictor, batch: Batch, repeat: int) -> dict[str, float]:
    """Seconds per batch of the route's own code, on a warm-loaded predictor."""
    arrow_body = encode_arrow_batch(batch.arrow_table())
    json_body = orjson.dumps({"series": batch.json_items()}, option=orjson.OPT_SERIALIZE_NUMPY)
    points = batch_schemas.read_arrow(arrow_body)

    def arrow() -> object:
        return batch_schemas.arrow_answer(
            score_batch(predictor, batch_schemas.read_arrow(arrow_body))
        )

    def json() -> object:
        return batch_schemas.json_answer(score_batch(predictor, batch_schemas.read_json(json_body)))

    return {
        "scoring": median_seconds(lambda: score_batch(predictor, points), repeat),
        "arrow": median_seconds(arrow, repeat),
        "json": median_seconds(json, repeat),
        "arrow_body_mb": len(arrow_body) / 1e6,
        "json_body_mb": len(json_body) / 1e6,
    }


def over_http(home: Path, batch: Batch, repeat: int) -> dict[str, float]:
    server = Server(home=home, command=("predictor",), name="bench-batch").start(timeout=180)
    try:
        with SeriesguardClient(server.url, timeout=300) as client:
            items = batch.json_items()

            def arrow() -> None:
                answer = client.predict_batch_arrow(batch.arrow_table())
                assert answer.points == batch.size, answer.points
                answer.table.column("anomaly_score").to_numpy()

            def json() -> None:
                answer = client.predict_batch(items)
                assert answer["points"] == batch.size, answer["points"]

            arrow()  # warm: connection, first allocations of this size
            json()
            return {"arrow": median_seconds(arrow, repeat), "json": median_seconds(json, repeat)}
    finally:
        server.stop()


def figures(
    batch: Batch, loop: float, local: dict[str, float], http: dict[str, float]
) -> list[Figure]:
    n = batch.size
    base = n / loop
    shape = f"{len(batch.ids):,} series x {n // len(batch.ids)} points"
    baseline = dict(baseline=base, baseline_label="numpy loop alone, same run")

    def rate(figure_id: str, title: str, seconds: float, **more: Any) -> Figure:
        return Figure(
            id=figure_id,
            title=title,
            value=n / seconds,
            unit="points/s",
            better="higher",
            extra={"points": n, "seconds": round(seconds, 4)},
            **more,
        )

    return [
        rate("batch.numpy_loop", f"numpy scoring loop alone ({shape})", loop, notes="baseline"),
        rate(
            "batch.in_process_scoring",
            "in process: resolve models + vectorised scoring",
            local["scoring"],
            target=SCORING_TARGET,
            **baseline,
        ),
        rate(
            "batch.in_process_arrow",
            "in process: Arrow body -> scores -> Arrow answer",
            local["arrow"],
            target=SCORING_TARGET,
            notes=f"body {local['arrow_body_mb']:.1f} MB",
            **baseline,
        ),
        rate(
            "batch.in_process_json",
            "in process: JSON body -> scores -> JSON answer",
            local["json"],
            notes=f"body {local['json_body_mb']:.1f} MB",
            **baseline,
        ),
        rate(
            "batch.http_arrow",
            "HTTP end to end, Arrow body and answer (client encode + decode)",
            http["arrow"],
            target=HTTP_TARGET,
            baseline=n / http["json"],
            baseline_label="JSON body, same server",
        ),
        rate(
            "batch.http_json",
            "HTTP end to end, JSON body and answer (client encode + decode)",
            http["json"],
            **baseline,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=100, help="points per series")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--home", type=Path, help="keep the fleet here between runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = args.home or Path(tmp) / "home"
        ids = build_fleet(home, args.series)
        runtime = build_runtime(Settings(home=home))
        try:
            runtime.predictor.warm_load()
            batch = make_batch(ids, production_params(runtime.predictor, ids), args.points)
            loop = median_seconds(numpy_loop(batch), args.repeat)
            local = in_process(runtime.predictor, batch, args.repeat)
        finally:
            runtime.engine.dispose()
        http = over_http(home, batch, args.repeat)
    publish("batch", figures(batch, loop, local, http))


def production_params(predictor: Predictor, ids: list[str]) -> dict[str, dict[str, float]]:
    """Each series' production params, as the predictor serves them (the baseline's dict)."""
    params = {}
    for sid in ids:
        scorer = predictor.resident_scorer(sid)
        assert scorer is not None, f"{sid} has no production model"
        params[sid] = {k: float(v) for k, v in scorer.detector.params().items()}
    return params


if __name__ == "__main__":
    main()
