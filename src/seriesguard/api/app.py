"""The FastAPI application: the routes of the roles a process plays, on one app.

The server around it (uvicorn, worker processes) is :mod:`seriesguard.api.server`; its
``serve``, the entry point of the server commands, is importable from here too.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from seriesguard import __version__
from seriesguard.api import errors
from seriesguard.api.body_limit import BodyLimitMiddleware
from seriesguard.api.fast_predict import FastPredictMiddleware
from seriesguard.api.openapi import install_openapi
from seriesguard.api.request_id import RequestIdMiddleware
from seriesguard.api.routes import (
    admin,
    batch,
    fleet,
    health,
    me,
    models,
    monitoring,
    plot,
    predict,
    training,
)
from seriesguard.api.routes import dashboard as dashboard_route
from seriesguard.api.routes import metrics as metrics_route
from seriesguard.api.routes import promotions as promotions_route
from seriesguard.api.routes import scheduler as scheduler_route
from seriesguard.api.routes import series_data as series_data_route
from seriesguard.api.security import (
    SecurityMiddleware,
    check_every_route_has_a_policy,
    public_paths,
)
from seriesguard.api.server import serve
from seriesguard.observability.red import RedMiddleware
from seriesguard.observability.tracing_asgi import TracingMiddleware
from seriesguard.runtime import Role, Runtime
from seriesguard.security.ratelimit import RateLimiter, create_rate_limiter
from seriesguard.security.tokens import TokenVerifier, create_verifier
from seriesguard.settings import Settings

__all__ = ["create_app", "serve", "serving_app"]

log = logging.getLogger(__name__)


def create_app(runtime: Runtime, *, front_layers: bool = True) -> FastAPI:
    """Training/management API and predictor on one app; the runtime starts with it.

    ``front_layers``: the request id, authentication, rate limit and body limit in front of
    the routes (:class:`Guard`), and the RED metrics in front of those; off only for
    :func:`serving_app`, which puts them in front of the fast path instead."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(runtime.start)
        settle_heap()
        try:
            yield
        finally:
            if guard.limiter is not None:
                await guard.limiter.close()
            await run_in_threadpool(runtime.stop)

    app = FastAPI(
        title="seriesguard",
        version=__version__,
        description="Anomaly detection for industrial sensor fleets: train, register, promote, "
        "predict. Every error is {'error': {'code': rule, 'message': text, 'details': "
        "[{'type': rule, 'loc': place, 'msg': text}]}}. Every operation but the probes needs "
        "a bearer JWT when authentication is configured; x-minimum-role names the weakest "
        "role that may call it.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    errors.install(app)
    # One code base, several processes: each mounts the routes of the roles it plays.
    if Role.API in runtime.roles:
        for router in (training.router, models.router, plot.router, monitoring.router):
            app.include_router(router)
        app.include_router(scheduler_route.router)
        app.include_router(promotions_route.router)
        app.include_router(series_data_route.router)  # bulk points into the history store
        app.include_router(me.router)  # who is calling (public: the dashboard's login check)
        app.include_router(fleet.router)
        if runtime.settings.dashboard:
            app.include_router(dashboard_route.router())  # the page at /, its files at /ui/
    if Role.PREDICTOR in runtime.roles:
        app.include_router(batch.router)  # before predict: "/batch" is not a series id
        app.include_router(predict.router)
    if runtime.roles & {Role.API, Role.PREDICTOR}:
        app.include_router(admin.router)
    app.include_router(health.router)
    app.include_router(metrics_route.router)
    check_every_route_has_a_policy(app)
    install_openapi(app, models=(*predict.HAND_READ_BODIES, *monitoring.HAND_READ_BODIES))
    guard = Guard.build(app, runtime.settings)
    app.state.guard = guard
    if front_layers:
        app.add_middleware(GuardLayers, guard=guard)
        # Outermost (added last): a request the guard refuses is counted too.
        app.add_middleware(RedMiddleware, metrics=runtime.metrics)
        if runtime.tracing.enabled:  # no layer at all, and no cost, without a collector
            app.add_middleware(TracingMiddleware, tracing=runtime.tracing)
    return app


def serving_app(runtime: Runtime) -> ASGIApp:
    """What the server runs: :func:`create_app`, and for a predictor the fast path of single
    predicts in front of it, before FastAPI (whose per-request telemetry checks and middleware
    cost as much as the prediction). Every request the fast path does not answer goes on to
    the app, unchanged. The request id, authentication, the rate limit and the body limit
    run in front of the fast path, once, and the RED metrics in front of everything."""
    # Traced predicts take the route, which opens the seed's spans (predict -> load_model ->
    # inference); the fast path stays span-free.
    fast_path = (
        Role.PREDICTOR in runtime.roles
        and runtime.settings.fast_predict
        and not runtime.tracing.enabled
    )
    app = create_app(runtime, front_layers=not fast_path)
    if not fast_path:
        return app
    guard: Guard = app.state.guard
    fast = guard.wrap(FastPredictMiddleware(app, predictor=runtime.predictor))
    return RedMiddleware(fast, metrics=runtime.metrics)


@dataclass(frozen=True)
class Guard:
    """What stands in front of the routes, built once per app from the settings."""

    verifier: TokenVerifier | None
    limiter: RateLimiter | None
    public_paths: frozenset[str]
    max_bytes: int
    path_limits: tuple[tuple[str, int], ...]

    @classmethod
    def build(cls, app: FastAPI, settings: Settings) -> Guard:
        single = predict.ROUTE_PREFIX + "/"
        return cls(
            verifier=create_verifier(settings),
            limiter=create_rate_limiter(settings),
            public_paths=public_paths(app),
            max_bytes=settings.max_body_bytes,
            path_limits=(
                (single + "batch", settings.max_body_bytes),
                (single, settings.max_predict_body_bytes),
            ),
        )

    def wrap(self, inner: ASGIApp) -> ASGIApp:
        """Request id, then who is calling (before any body is looked at), then the body
        limit, in front of ``inner``."""
        limited = BodyLimitMiddleware(inner, max_bytes=self.max_bytes, path_limits=self.path_limits)
        security = SecurityMiddleware(
            limited, verifier=self.verifier, limiter=self.limiter, public_paths=self.public_paths
        )
        return RequestIdMiddleware(security)


class GuardLayers:
    """:meth:`Guard.wrap` as a Starlette middleware of the app."""

    def __init__(self, app: ASGIApp, *, guard: Guard) -> None:
        self._layers = guard.wrap(app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._layers(scope, receive, send)


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
