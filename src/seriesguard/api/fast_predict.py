"""The single predict's happy path, answered in front of the FastAPI app.

A predict for a series whose model is in memory, with a plain JSON body, is the request a
predictor serves thousands of times a second. Through FastAPI (its per-request telemetry
checks, Starlette's middleware, routing, request object, dependency resolution) it costs about
three times what it costs here (measured on 285k series, see docs/performance.md). This ASGI
wrapper answers exactly that case and nothing else, with the bytes the route itself would send
(:func:`~seriesguard.api.routes.predict.answer_counted`); any other request, or anything unusual
about this one (another content type, a body that needs pydantic's lax rules, a rule broken,
a model not in memory, any error), goes on to the app untouched, its body replayed, so every
error, fallback and header stays the route's. Whatever the route learns to do for every
predict (per-series counters, say) must be done here too.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seriesguard.api.routes.predict import ROUTE_PREFIX, answer_counted
from seriesguard.api.security import PRINCIPAL
from seriesguard.core.authz import Permission, Principal
from seriesguard.core.series import check_series_id
from seriesguard.observability.red import ROUTE_KEY
from seriesguard.serving.predictor import Predictor

log = logging.getLogger(__name__)

MAX_FAST_BODY = 4096  # a point is ~50 bytes; larger bodies take the app's path (and limit)
_JSON = b"application/json"
_HEADERS = [(b"content-type", _JSON)]
# Paths under the prefix that other routes own (batch predict), not series ids.
OTHER_ROUTES = frozenset({"batch"})
ROUTE_TEMPLATE = ROUTE_PREFIX + "/{series_id}"


def _plain_request(scope: Scope) -> bool:
    """A POST with a small declared JSON body (header names are lower-case in ASGI)."""
    if scope["method"] != "POST" or scope.get("root_path"):
        return False
    content_type, length = None, None
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
        elif name == b"content-length":
            length = value
    return (
        content_type == _JSON
        and length is not None
        and length.isdigit()
        and int(length) <= MAX_FAST_BODY
    )


def _may_predict(scope: Scope) -> bool:
    """The caller, as the security layer in front settled it, may predict; anyone else is
    the route's to refuse (with its proper 401/403 body)."""
    principal: Principal | None = scope.get(PRINCIPAL)
    return principal is not None and principal.can(Permission.PREDICT)


def _point(body: bytes) -> tuple[float, float] | None:
    """``(timestamp, value)`` when the body is the plain form: exactly the two fields, as
    JSON numbers, the value finite. Anything else is left to the route."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if type(document) is not dict or len(document) != 2:
        return None
    timestamp, value = _number(document.get("timestamp")), _number(document.get("value"))
    if timestamp is None or value is None or not math.isfinite(value):
        return None
    return timestamp, value


def _number(raw: object) -> float | None:
    """A JSON number as a float; None for anything else (bool included, as pydantic's lax
    rules for it belong to the route)."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    return None


class FastPredictMiddleware:
    def __init__(self, app: ASGIApp, *, predictor: Predictor) -> None:
        self.app = app
        self._predictor = predictor
        self._prefix = ROUTE_PREFIX + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self._prefix):
            await self.app(scope, receive, send)
            return
        if not _plain_request(scope) or not _may_predict(scope):
            await self.app(scope, receive, send)
            return
        message = await receive()
        content = None if message.get("more_body") else self._content(scope, message)
        if content is None:
            await self.app(scope, _replay(message, receive), send)
            return
        scope[ROUTE_KEY] = ROUTE_TEMPLATE  # the RED metrics' route label: no routing ran
        headers = [*_HEADERS, (b"content-length", b"%d" % len(content))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    def _content(self, scope: Scope, message: Message) -> bytes | None:
        """The answer's bytes, or None when the app must answer."""
        started = time.perf_counter()
        series_id = scope["path"][len(self._prefix) :]
        if "/" in series_id or series_id in OTHER_ROUTES:
            return None
        point = _point(message.get("body", b""))
        if point is None:
            return None
        try:
            check_series_id(series_id)
            scorer = self._predictor.resident_scorer(series_id)
            if scorer is None:
                return None
            timestamp, value = point
            content, _ = answer_counted(
                self._predictor, series_id, timestamp, value, scorer, started=started
            )
            return content
        except Exception:  # the app's route gives the same failure its proper answer
            log.debug("fast path declined %r", series_id, exc_info=True)
            return None


def _replay(first: Message, receive: Receive) -> Receive:
    """A receive that hands back the message already read, then the rest of the stream."""
    pending: list[Message] = [first]

    async def replay() -> Message:
        if pending:
            return pending.pop()
        message: Any = await receive()
        return message  # type: ignore[no-any-return]

    return replay
