"""The FastAPI application: the routes of the roles a process plays, on one app.

The server around it (uvicorn, worker processes) is :mod:`seriesguard.api.server`; its
``serve``, the entry point of the server commands, is importable from here too.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from starlette.types import ASGIApp

from seriesguard import __version__
from seriesguard.api import errors
from seriesguard.api.body_limit import BodyLimitMiddleware
from seriesguard.api.fast_predict import FastPredictMiddleware
from seriesguard.api.routes import admin, batch, health, models, plot, predict, training
from seriesguard.api.server import serve
from seriesguard.runtime import Role, Runtime

__all__ = ["create_app", "serve", "serving_app"]

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> FastAPI:
    """Training/management API and predictor on one app; the runtime starts with it."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.start)
        settle_heap()
        try:
            yield
        finally:
            await run_in_threadpool(runtime.stop)

    app = FastAPI(
        title="seriesguard",
        version=__version__,
        description="Anomaly detection for industrial sensor fleets: train, register, promote, "
        "predict. Errors are {'detail': [{'type': rule, 'loc': place, 'msg': text}]}.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    errors.install(app)
    # One code base, several processes: each mounts the routes of the roles it plays.
    if Role.API in runtime.roles:
        for router in (training.router, models.router, plot.router):
            app.include_router(router)
    if Role.PREDICTOR in runtime.roles:
        app.include_router(batch.router)  # before predict: "/batch" is not a series id
        app.include_router(predict.router)
        document_models(app, predict.HAND_READ_BODIES)
    if runtime.roles & {Role.API, Role.PREDICTOR}:
        app.include_router(admin.router)
    app.include_router(health.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.settings.max_body_bytes)
    return app


def serving_app(runtime: Runtime) -> ASGIApp:
    """What the server runs: :func:`create_app`, and for a predictor the fast path of single
    predicts in front of it, before FastAPI (whose per-request telemetry checks and middleware
    cost as much as the prediction). Every request the fast path does not answer goes on to
    the app, unchanged."""
    app = create_app(runtime)
    if Role.PREDICTOR not in runtime.roles or not runtime.settings.fast_predict:
        return app
    return FastPredictMiddleware(app, predictor=runtime.predictor)


def settle_heap() -> None:
    """Keep what start-up built (a predictor's whole model table) out of the cycle collector.

    A warm predictor holds over a million objects for 285k models; each full collection walks
    them all (~0.3 s on this machine, measured), and one comes whenever enough request objects
    have survived into the old generation: a periodic stall of every request in flight. The
    models are freed by reference counting when replaced (they hold no cycles), so freezing
    them costs nothing but the walk.
    """
    gc.collect()
    gc.freeze()


def document_models(app: FastAPI, models: tuple[type[BaseModel], ...]) -> None:
    """Add ``models`` to the OpenAPI components: routes that read their body by hand refer to
    its schema by ``$ref``, and FastAPI only adds the models it validates itself."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()  # cached by FastAPI on the app: the additions below stay
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in models:
            components.setdefault(
                model.__name__,
                model.model_json_schema(ref_template="#/components/schemas/{model}"),
            )
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
