"""One SERVER span per HTTP request, continuing the caller's trace.

Installed outermost, so the span covers authentication, limits and the fast path too. The
parent comes from the request's ``traceparent`` (Istio's sidecars and gateways pass it on).
The span is named ``"{method} {route template}"`` once the router has matched a route: the
template, never the raw path, whose series and job ids would make one span name per series.
A layer that answers before the router (the predictor's fast path) names its route by
setting ``scope[ROUTE_SCOPE_KEY]`` to the template.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seriesguard.observability.tracing import SpanHandle, SpanKind, Tracing

ROUTE_SCOPE_KEY: Final = "seriesguard.route"
_TRACE_HEADERS: Final = {b"traceparent": "traceparent", b"tracestate": "tracestate"}
# HTTP semantic conventions: any other method is reported as _OTHER (span name "HTTP"), so a
# client inventing methods cannot invent span names.
_KNOWN_METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
)
_SERVER_ERROR: Final = 500


class TracingMiddleware:
    def __init__(self, app: ASGIApp, tracing: Tracing) -> None:
        self._app = app
        self._tracing = tracing

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._tracing.enabled:
            await self._app(scope, receive, send)
            return
        method = scope["method"] if scope["method"] in _KNOWN_METHODS else "_OTHER"
        status: list[int] = []

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(int(message["status"]))
            await send(message)

        attributes = {"http.request.method": method, "url.path": scope["path"]}
        with self._tracing.continued(
            _span_name(method, None), _trace_context(scope), attributes, kind=SpanKind.SERVER
        ) as span:
            try:
                await self._app(scope, receive, send_noting_status)
            finally:
                _describe(span, method=method, route=_route_template(scope), status=status)


def _describe(span: SpanHandle, *, method: str, route: str | None, status: list[int]) -> None:
    if route is not None:
        span.rename(_span_name(method, route))
        span.set_attribute("http.route", route)
    if status:
        span.set_attribute("http.response.status_code", status[0])
        if status[0] >= _SERVER_ERROR:
            span.mark_error(f"HTTP {status[0]}")


def _span_name(method: str, route: str | None) -> str:
    name = "HTTP" if method == "_OTHER" else method
    return name if route is None else f"{name} {route}"


def _trace_context(scope: Scope) -> Mapping[str, str]:
    carrier: dict[str, str] = {}
    for key, value in scope["headers"]:
        name = _TRACE_HEADERS.get(key)
        if name is not None:
            carrier[name] = value.decode("latin-1")
    return carrier


def _route_template(scope: Scope) -> str | None:
    """The matched route's template: Starlette's router leaves the route in the scope."""
    named = scope.get(ROUTE_SCOPE_KEY)
    if isinstance(named, str):
        return named
    route: Any = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None
