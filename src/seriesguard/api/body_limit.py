"""Reject request bodies over the configured size with 413 before they are read whole.

A body with a ``Content-Length`` is judged by that header alone: the HTTP parser never hands
the app more bytes than it declares, so such requests (nearly all of them, every predict and
every body-less GET) pass through untouched. Only a chunked body, whose size is unknown up
front, is counted as it arrives.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seriesguard.api.error_body import error_bytes


class BodyTooLarge(Exception):
    """A counted body went past its limit while the app read it. An app with an error
    middleware of its own answers it there (FastAPI would make any escaping exception a
    500): see ``errors.install``; a bare ASGI app lets it reach this layer."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body exceeds {limit} bytes")
        self.limit = limit


def _declared_length(scope: Scope) -> int | None:
    """The body's size as the request declares it: its ``Content-Length``, 0 when it has
    neither that nor ``Transfer-Encoding`` (no body in HTTP/1.1), None when unknown (chunked).
    """
    chunked = False
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            return int(value) if value.isdigit() else None
        chunked = chunked or name == b"transfer-encoding"
    return None if chunked else 0


class BodyLimitMiddleware:
    """``max_bytes`` for every body, unless the path starts with one of ``path_limits``'
    prefixes (the first that matches wins): a single predict has no business being large."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, path_limits: tuple[tuple[str, int], ...] = ()
    ) -> None:
        self.app = app
        self._max = max_bytes
        self._path_limits = path_limits

    def _limit(self, path: str) -> int:
        for prefix, limit in self._path_limits:
            if path.startswith(prefix):
                return limit
        return self._max

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope.get("path", ""))
        declared = _declared_length(scope)
        if declared is not None:
            if declared > limit:
                await self._reject(send, limit)
            else:
                await self.app(scope, receive, send)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send, limit)

    async def _reject(self, send: Send, limit: int) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": too_large_body(limit)})


def too_large_body(limit: int) -> bytes:
    return error_bytes("body_too_large", ["body"], f"request body exceeds {limit} bytes")
