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
from seriesguard.api.routes import admin, health, models, plot, predict, training
from seriesguard.runtime import Runtime, build_runtime
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
    for router in (training.router, models.router, predict.router, admin.router, plot.router):
        app.include_router(router)
    app.include_router(health.router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=runtime.settings.max_body_bytes)
    return app


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def serve(settings: Settings) -> None:
    """Run the all-in-one server until SIGINT/SIGTERM (uvicorn shuts down gracefully)."""
    configure_logging(settings.log_level)
    app = create_app(build_runtime(settings))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
