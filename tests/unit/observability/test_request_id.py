"""Log lines of one request carry its id: the caller's X-Request-ID, echoed, or one made up
when something is logged."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from seriesguard.api.request_id import RequestIdMiddleware
from seriesguard.observability.context import current_request_id
from seriesguard.observability.logging import configure_logging

log = logging.getLogger("seriesguard.test.request")


def serve(headers: list[tuple[bytes, bytes]], *, lines: int = 2) -> list[dict[str, Any]]:
    """One request through the middleware to an app that logs ``lines`` times."""
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        for index in range(lines):
            log.warning("line %d", index)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/x", "headers": headers}
    asyncio.run(RequestIdMiddleware(app)(scope, receive, send))
    return sent


@pytest.fixture()
def json_lines(capsys: pytest.CaptureFixture[str]) -> Any:
    """Call it once to start JSON logging into the captured stderr, then to read the lines
    (logging is configured in the test itself: the stream differs during fixture set-up)."""
    started: list[bool] = []

    def lines() -> list[dict[str, Any]]:
        if not started:
            configure_logging(level="INFO", fmt="json", process_role="api")
            started.append(True)
            return []
        return [json.loads(line) for line in capsys.readouterr().err.splitlines()]

    yield lines
    logging.getLogger().handlers.clear()


def test_the_callers_request_id_is_logged_and_echoed(json_lines: Any) -> None:
    json_lines()
    sent = serve([(b"x-request-id", b"b1f0-42.envoy")])
    assert [line["request_id"] for line in json_lines()] == ["b1f0-42.envoy"] * 2
    assert (b"x-request-id", b"b1f0-42.envoy") in sent[0]["headers"]


def test_without_one_each_request_gets_its_own_when_it_logs(json_lines: Any) -> None:
    json_lines()
    serve([])
    serve([(b"x-request-id", b"x" * 129)])  # too long to be trusted in a log line
    serve([(b"x-request-id", b"a b\nforged")])
    ids = [line["request_id"] for line in json_lines()]
    assert len(ids) == 6 and len(set(ids)) == 3  # one per request, shared by its lines
    assert all(len(request_id) == 32 for request_id in ids)


def test_outside_a_request_there_is_no_id(json_lines: Any) -> None:
    json_lines()
    log.warning("at start-up")
    (line,) = json_lines()
    assert "request_id" not in line
    assert current_request_id() is None
