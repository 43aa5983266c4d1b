"""RED metrics of every HTTP request: rate and errors (``http_requests_total{route, method,
status}``) and duration (``http_request_duration_seconds{route, method}``).

``route`` is the route TEMPLATE (``/api/v1/predict/{series_id}``), never the raw path: one
label value per series would sink Prometheus. It is read after the app ran, from what routing
left in the scope: ``scope[ROUTE_KEY]`` when a layer in front of routing answered (the predict
fast path sets it), else the matched Starlette/FastAPI route (``scope["route"]``, which the
router sets for a full match and for a 405's partial one); a request nothing matched (a 404,
or one refused before routing, such as a 401) is ``route="unmatched"``.

Per request: a ``perf_counter`` pair, one wrapped ``send`` (a plain function handing back the
real ``send``'s awaitable: no extra coroutine), and one dict lookup that finds the counter's
and the histogram's cells of that (route, method, status) together. Measured on the 2-core
development machine: ~1.8 µs per request over a bare ASGI app, of which ~0.5 µs is what any
ASGI layer costs (the instruments alone: ~0.3 µs per counter, ~0.55 µs per histogram update).
"""

from __future__ import annotations

from bisect import bisect_left
from time import perf_counter
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seriesguard.observability.metrics import Metrics

ROUTE_KEY = "seriesguard.route"
UNMATCHED = "unmatched"
# Methods are labels too: anything outside the standard ones is counted as "other".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"})
_MAX_SLOTS = 4096  # (route, method, status) seen; routes are templates, so it rarely fills

Slot = tuple[list[float], list[float]]  # the request counter's cell, the histogram's cells


def route_template(scope: Scope) -> str:
    """The route the request was answered by, as a template; ``unmatched`` when none."""
    route: str | None = scope.get(ROUTE_KEY)
    if route is not None:
        return route
    matched: Any = scope.get("route")
    if matched is None:
        return UNMATCHED
    template = getattr(matched, "path_format", None) or getattr(matched, "path", None)
    return template if isinstance(template, str) else UNMATCHED


class RedMiddleware:
    """Counts and times every HTTP request of ``app``; put it outermost, so that whatever
    answers (a guard's 401, the fast path, a route, an error) is counted. A request whose
    app raised before answering counts as a 500; the exception goes on."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self._requests = metrics.http_requests
        self._duration = metrics.http_duration
        self._bounds = metrics.http_duration.bounds
        self._slots: dict[tuple[str, str, int], Slot] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        def status_send(message: Message) -> Any:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            return send(message)

        start = perf_counter()
        try:
            await self.app(scope, receive, status_send)
        finally:
            elapsed = perf_counter() - start
            key = (route_template(scope), scope["method"], status[0])
            slot = self._slots.get(key) or self._slot(key)
            slot[0][0] += 1.0
            cells = slot[1]
            cells[bisect_left(self._bounds, elapsed)] += 1.0
            cells[-1] += elapsed

    def _slot(self, key: tuple[str, str, int]) -> Slot:
        route, method, status = key
        if method not in _METHODS:
            method = "other"
        if len(self._slots) >= _MAX_SLOTS:
            self._slots.clear()  # the counts live in the instruments; only shortcuts go
        slot = (
            self._requests.cell(route, method, str(status)),
            self._duration.cells(route, method),
        )
        self._slots[key] = slot
        return slot
