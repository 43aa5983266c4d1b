"""RED metrics by route template and exact status, whatever answers and however it ends."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import pytest

from seriesguard.observability.metrics import Metrics
from seriesguard.observability.red import ROUTE_KEY, RedMiddleware


@dataclass
class MatchedRoute:
    """What Starlette's router leaves in ``scope["route"]``."""

    path_format: str


def call(
    app: Any, *, method: str = "GET", path: str = "/api/v1/predict/s-17"
) -> tuple[Metrics, list[dict[str, Any]], dict[str, Any]]:
    """One request through the middleware; (metrics, messages sent, the scope)."""
    metrics = Metrics()
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    scope: dict[str, Any] = {"type": "http", "method": method, "path": path, "headers": []}
    asyncio.run(RedMiddleware(app, metrics=metrics)(scope, receive, send))
    return metrics, sent, scope


def answering(status: int, **scope_updates: Any) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope.update(scope_updates)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"x"})

    return app


def test_a_routed_request_is_counted_by_its_template_and_exact_status() -> None:
    route = MatchedRoute("/api/v1/predict/{series_id}")
    metrics, sent, _ = call(answering(422, route=route), method="POST")
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert metrics.http_requests.samples() == [
        (("/api/v1/predict/{series_id}", "POST", "422"), 1.0)
    ]
    assert metrics.http_duration.count("/api/v1/predict/{series_id}", "POST") == 1


def test_the_route_key_of_a_layer_in_front_of_routing_wins() -> None:
    metrics, _, _ = call(answering(200, **{ROUTE_KEY: "/api/v1/predict/{series_id}"}))
    assert metrics.http_requests.value("/api/v1/predict/{series_id}", "GET", "200") == 1


def test_an_unrouted_request_is_unmatched_never_its_raw_path() -> None:
    metrics, _, _ = call(answering(401))
    assert metrics.http_requests.samples() == [(("unmatched", "GET", "401"), 1.0)]


def test_a_raise_is_counted_as_500_and_goes_on() -> None:
    metrics = Metrics()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom")

    async def run() -> None:
        scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
        await RedMiddleware(app, metrics=metrics)(scope, None, None)  # type: ignore[arg-type]

    with pytest.raises(RuntimeError):
        asyncio.run(run())
    assert metrics.http_requests.value("unmatched", "GET", "500") == 1
    assert metrics.http_duration.count("unmatched", "GET") == 1


def test_a_raise_after_the_answer_started_keeps_the_status_sent() -> None:
    metrics = Metrics()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("late")

    async def send(message: Any) -> None:
        pass

    async def run() -> None:
        scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
        await RedMiddleware(app, metrics=metrics)(scope, None, send)  # type: ignore[arg-type]

    with pytest.raises(RuntimeError):
        asyncio.run(run())
    assert metrics.http_requests.value("unmatched", "GET", "200") == 1


def test_an_unknown_method_is_other() -> None:
    metrics, _, _ = call(answering(405), method="BREW")
    assert metrics.http_requests.value("unmatched", "other", "405") == 1


def test_lifespan_passes_through_uncounted() -> None:
    metrics = Metrics()
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    asyncio.run(RedMiddleware(app, metrics=metrics)({"type": "lifespan"}, None, None))  # type: ignore[arg-type]
    assert seen == ["lifespan"]
    assert metrics.http_requests.samples() == []
