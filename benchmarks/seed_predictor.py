"""Baseline server: the seed's predictor design, for side-by-side serving benchmarks.

What the seed document describes (its ``AnomalyPredictor``): FastAPI, an LRU cache of
``CACHE_SIZE`` = 100 models loaded with ``mlflow.pyfunc.load_model`` from the registry, warm-loaded
at start, a z-score fallback for series without a model. A prediction is the pyfunc model's
``predict`` on a one-row DataFrame. It runs on the same server stack as seriesguard (uvicorn,
uvloop, httptools, no access log), so the difference measured is the design, not the stack.

    python benchmarks/seed_predictor.py --home <fleet home> --port 8090 [--cache-size 100]
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

log = logging.getLogger("seed_predictor")


class PointIn(BaseModel):
    timestamp: float
    value: float


class LruModels:
    """The seed's ``LRUCache(maxsize=CACHE_SIZE)`` of pyfunc models, shared by the threads."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, series_id: str) -> tuple[Any, str]:
        with self._lock:
            model = self._models.get(series_id)
            if model is not None:
                self._models.move_to_end(series_id)
                return model, "cache"
        model = self._load(series_id)  # outside the lock, as cachetools leaves it
        with self._lock:
            self._models[series_id] = model
            while len(self._models) > self._size:
                self._models.popitem(last=False)
        return model, "mlflow"

    @staticmethod
    def _load(series_id: str) -> Any:
        import mlflow

        return mlflow.pyfunc.load_model(f"models:/anomaly-detector-{series_id}@production")


def create_app(*, tracking_uri: str, cache_size: int, warm: list[str]) -> FastAPI:
    import mlflow
    import pandas as pd

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    models = LruModels(cache_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Iterator[None]:  # type: ignore[misc]
        for series_id in warm:  # the seed's warm_load_models
            models.get(series_id)
        yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/api/v1/readiness")
    def readiness() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/api/v1/predict/{series_id}")
    def predict(series_id: str, point: PointIn) -> dict[str, Any]:
        # A plain ``def`` route, as the seed's synchronous predictor: FastAPI runs it in its
        # thread pool, where a cache miss loads the model from the registry.
        try:
            model, source = models.get(series_id)
        except Exception:
            z = abs(point.value)  # the seed's fallback with no history: mean 0, std 1
            return {"anomaly": z > 3.0, "anomaly_score": z, "confidence": "low"}
        frame = pd.DataFrame({"timestamp": [point.timestamp], "value": [point.value]})
        scored = model.predict(frame)
        return {
            "anomaly": bool(scored["anomaly"].iloc[0]),
            "anomaly_score": float(scored["anomaly_score"].iloc[0]),
            "model_info": {"stage": "production", "loaded_from": source},
            "confidence": "high" if source == "mlflow" else "medium",
        }

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description="The seed's predictor design (baseline).")
    parser.add_argument("--home", type=Path, required=True, help="fleet home (its mlflow.db)")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--cache-size", type=int, default=100)
    parser.add_argument("--warm", type=Path, help="series to warm-load (one id a line)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warm = args.warm.read_text().split()[: args.cache_size] if args.warm else []
    app = create_app(
        tracking_uri=f"sqlite:///{args.home.resolve() / 'mlflow.db'}",
        cache_size=args.cache_size,
        warm=warm,
    )
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
