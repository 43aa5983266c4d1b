"""The ASGI tracing middleware: one SERVER span per request, named by route template, child of
the caller's traceparent, failed on a 5xx or an exception; absent when tracing is off."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Response
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send
from tests.otlp_collector import CollectedSpan, OtlpCollector

from seriesguard.observability.tracing import NO_TRACING, Tracing, create_tracing
from seriesguard.observability.tracing_asgi import ROUTE_SCOPE_KEY, TracingMiddleware

CALLER_TRACE, CALLER_SPAN = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def build_app(tracing: Tracing) -> ASGIApp:
    app = FastAPI()

    @app.get("/api/v1/jobs/{job_id}")
    def get_job(job_id: str) -> dict[str, object]:  # sync: runs in the thread pool
        return {"job_id": job_id, "ids": tracing.current_ids()}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("handler bug")

    @app.get("/unavailable")
    async def unavailable() -> Response:
        return Response(status_code=503)

    return TracingMiddleware(FastPath(app), tracing)


class FastPath:
    """Answers ``/fast`` before the router, naming its route as the predictor's fast path
    may."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/fast/s1":
            await self._app(scope, receive, send)
            return
        scope[ROUTE_SCOPE_KEY] = "/fast/{series_id}"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


@pytest.fixture()
def traced() -> Iterator[tuple[TestClient, Tracing, OtlpCollector]]:
    with OtlpCollector() as collector:
        tracing = create_tracing(endpoint=collector.endpoint, service_name="seriesguard-api")
        try:
            yield TestClient(build_app(tracing), raise_server_exceptions=False), tracing, collector
        finally:
            tracing.shutdown()


def server_spans(tracing: Tracing, collector: OtlpCollector, count: int) -> list[CollectedSpan]:
    tracing.shutdown()
    return collector.wait_for(lambda spans: len(spans) >= count)


def test_a_span_per_request_named_by_its_route_template(
    traced: tuple[TestClient, Tracing, OtlpCollector],
) -> None:
    client, tracing, collector = traced
    answer = client.get("/api/v1/jobs/j-42").json()
    (span,) = server_spans(tracing, collector, 1)
    assert span.name == "GET /api/v1/jobs/{job_id}"
    assert span.kind == "server" and span.status == "unset"
    assert span.attributes == {
        "http.request.method": "GET",
        "url.path": "/api/v1/jobs/j-42",
        "http.route": "/api/v1/jobs/{job_id}",
        "http.response.status_code": 200,
    }
    assert answer["ids"] == [span.trace_id, span.span_id]  # the handler ran inside it


def test_the_callers_traceparent_is_the_parent(
    traced: tuple[TestClient, Tracing, OtlpCollector],
) -> None:
    client, tracing, collector = traced
    client.get("/api/v1/jobs/j-1", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"})
    (span,) = server_spans(tracing, collector, 1)
    assert (span.trace_id, span.parent_span_id) == (CALLER_TRACE, CALLER_SPAN)


def test_failures_and_unmatched_paths(traced: tuple[TestClient, Tracing, OtlpCollector]) -> None:
    client, tracing, collector = traced
    assert client.get("/boom").status_code == 500
    assert client.get("/unavailable").status_code == 503
    assert client.get("/no/such/path/123").status_code == 404
    assert client.request("BREW", "/api/v1/jobs/j-2").status_code == 405
    assert client.get("/fast/s1").status_code == 200
    spans = {span.name: span for span in server_spans(tracing, collector, 5)}
    assert set(spans) == {
        "GET /boom",
        "GET /unavailable",
        "GET",  # no route matched: never the raw path
        "HTTP /api/v1/jobs/{job_id}",  # a method outside HTTP's own is _OTHER
        "GET /fast/{series_id}",
    }
    assert spans["GET /boom"].status == "error"
    assert spans["GET /unavailable"].status == "error"
    assert spans["GET"].status == "unset" and "http.route" not in spans["GET"].attributes
    assert spans["HTTP /api/v1/jobs/{job_id}"].attributes["http.request.method"] == "_OTHER"


def test_without_tracing_requests_pass_untouched() -> None:
    with OtlpCollector() as collector:
        client = TestClient(build_app(NO_TRACING))
        assert client.get("/api/v1/jobs/j-9").json() == {"job_id": "j-9", "ids": None}
        assert client.get("/fast/s1").status_code == 200
        assert collector.spans == []
