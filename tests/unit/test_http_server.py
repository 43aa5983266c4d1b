"""The server around the app: write coalescing, the body limit's fast path, the settings of
each process of a multi-process server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from seriesguard.api.body_limit import BodyLimitMiddleware
from seriesguard.api.fast_predict import FastPredictMiddleware
from seriesguard.api.request_id import RequestIdMiddleware
from seriesguard.api.security import SecurityMiddleware
from seriesguard.api.server import (
    LARGE_WRITE,
    PROCESS_ROLES_ENV,
    PROCESS_SETTINGS_ENV,
    CoalescingTransport,
    process_app,
    process_settings_json,
    uvicorn_options,
)
from seriesguard.observability.red import RedMiddleware
from seriesguard.runtime import Role
from seriesguard.settings import Settings


class FakeTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str) -> str:
        return f"info:{name}"


def coalescing(fake: FakeTransport, loop: asyncio.AbstractEventLoop) -> CoalescingTransport:
    return CoalescingTransport(fake, loop)  # type: ignore[arg-type]


def test_writes_of_one_loop_step_leave_as_one() -> None:
    async def scenario() -> list[bytes]:
        fake = FakeTransport()
        transport = coalescing(fake, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.write(bytearray(b"{}"))
        assert fake.sent == []  # held until the step ends
        assert transport.get_write_buffer_size() == 21
        await asyncio.sleep(0)
        transport.writelines([b"a", b"b"])
        await asyncio.sleep(0)
        return fake.sent

    assert asyncio.run(scenario()) == [b"HTTP/1.1 200 OK\r\n\r\n{}", b"ab"]


def test_large_write_goes_out_at_once_after_what_is_pending() -> None:
    async def scenario() -> list[bytes]:
        fake = FakeTransport()
        transport = coalescing(fake, asyncio.get_running_loop())
        big = b"x" * LARGE_WRITE
        transport.write(b"head")
        transport.write(big)
        assert fake.sent == [b"head", big]  # in order, the big one not copied
        await asyncio.sleep(0)
        return fake.sent

    assert len(asyncio.run(scenario())) == 2


def test_close_flushes_first_and_abort_drops() -> None:
    async def scenario() -> tuple[FakeTransport, FakeTransport]:
        loop = asyncio.get_running_loop()
        closed, aborted = FakeTransport(), FakeTransport()
        first, second = coalescing(closed, loop), coalescing(aborted, loop)
        first.write(b"last words")
        first.close()
        second.write(b"never sent")
        second.abort()
        await asyncio.sleep(0)  # the scheduled flushes find nothing left to send
        assert first.get_extra_info("peername") == "info:peername"  # everything else passes
        return closed, aborted

    closed, aborted = asyncio.run(scenario())
    assert (closed.sent, closed.closed) == ([b"last words"], True)
    assert (aborted.sent, aborted.aborted) == ([], True)


async def _echo_app(scope: Any, receive: Any, send: Any) -> None:
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def _call(headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> tuple[int, bytes, bool]:
    """Run the middleware (limit 10 bytes) on one request; (status, body, receive wrapped)."""
    sent: list[dict[str, Any]] = []
    wrapped = False

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal wrapped
        wrapped = receive is not original_receive
        await _echo_app(scope, receive, send)

    async def original_receive() -> dict[str, Any]:
        body = chunks.pop(0)
        return {"type": "http.request", "body": body, "more_body": bool(chunks)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "headers": headers}
    asyncio.run(BodyLimitMiddleware(app, max_bytes=10)(scope, original_receive, send))
    return sent[0]["status"], sent[1]["body"], wrapped


def test_declared_body_is_judged_by_its_header_alone() -> None:
    assert _call([(b"content-length", b"4")], [b"1234"]) == (200, b"4", False)
    status, body, _ = _call([(b"content-length", b"11")], [b"12345678901"])
    assert status == 413 and b"body_too_large" in body


def test_request_without_body_passes_untouched() -> None:
    assert _call([(b"host", b"x")], [b""]) == (200, b"0", False)


def test_chunked_body_is_counted_as_it_arrives() -> None:
    chunked = [(b"transfer-encoding", b"chunked")]
    assert _call(chunked, [b"12345", b"678"]) == (200, b"8", True)
    status, body, _ = _call(chunked, [b"123456", b"789012"])
    assert status == 413 and b"body_too_large" in body


def test_access_log_is_off_unless_asked_for() -> None:
    options = uvicorn_options(Settings())
    assert (options["access_log"], options["proxy_headers"], options["loop"]) == (
        False,
        False,
        "uvloop",
    )
    logged = uvicorn_options(Settings(access_log=True))
    assert logged["access_log"] is True
    assert logged["proxy_headers"] is False  # X-Forwarded-For is anyone's to write


def test_forwarded_for_is_believed_only_from_named_proxies() -> None:
    options = uvicorn_options(Settings(forwarded_allow_ips="10.0.0.0/8"))
    assert (options["proxy_headers"], options["forwarded_allow_ips"]) == (True, "10.0.0.0/8")


def test_each_server_process_builds_the_parents_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(
        home=tmp_path,
        port=8123,
        mlflow_tracking_uri="memory://",
        cache_size=7,
        log_level="ERROR",
        auth_secret="a-shared-secret-of-at-least-32-bytes",  # type: ignore[arg-type]
    )
    monkeypatch.setenv(PROCESS_SETTINGS_ENV, process_settings_json(settings))
    monkeypatch.setenv(PROCESS_ROLES_ENV, "predictor")
    monkeypatch.setenv("SERIESGUARD_PORT", "9999")  # the parent's settings win over the env
    monkeypatch.setattr("seriesguard.api.server.configure_logging", lambda **_: None)
    app = process_app()
    # A predictor: RED metrics, request id, security, the body limit, the fast path, the app.
    assert isinstance(app, RedMiddleware)
    app = app.app
    assert isinstance(app, RequestIdMiddleware)
    assert isinstance(app.app, SecurityMiddleware)
    fast = app.app.app.app  # type: ignore[attr-defined]
    assert isinstance(fast, FastPredictMiddleware)
    runtime = fast.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.settings == settings  # the secret too: masked in a plain JSON dump
    assert runtime.settings.auth_secret.get_secret_value().startswith("a-shared-secret")
    assert runtime.roles == frozenset({Role.PREDICTOR})
    runtime.engine.dispose()
