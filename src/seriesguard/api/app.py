"""The all-in-one FastAPI application and the ``serve`` entry point."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from seriesguard import __version__
from seriesguard.api import errors
from seriesguard.api.body_limit import BodyLimitMiddleware
from seriesguard.api.routes import admin, batch, health, models, plot, predict, training
from seriesguard.observability.logging import configure_logging
from seriesguard.runtime import ALL_IN_ONE, Role, Runtime, build_runtime
from seriesguard.settings import Settings

log = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> FastAPI:
    """Training/management API and predictor on one app; the runtime starts with it."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.start)
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
    if runtime.roles & {Role.API, Role.PREDICTOR}:
        app.include_router(admin.router)
    app.include_router(health.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.settings.max_body_bytes)
    return app


def serve(settings: Settings, *, roles: frozenset[Role] = ALL_IN_ONE, name: str = "serve") -> None:
    """Run until SIGINT/SIGTERM; uvicorn then stops taking requests, finishes the ones in
    flight and runs the shutdown, where a worker finishes the job in hand."""
    configure_logging(level=settings.log_level, fmt=settings.log_format, process_role=name)
    app = create_app(build_runtime(settings, roles=roles))
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's records go through our handler (JSON in containers)
        timeout_graceful_shutdown=30,
    )
