"""Every request runs inside its request id (:mod:`seriesguard.observability.context`):
the caller's ``X-Request-ID`` when it sends a usable one, echoed on the answer."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seriesguard.observability.context import accepted_request_id, begin_request, end_request

_HEADER = b"x-request-id"


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = next((v for k, v in scope["headers"] if k == _HEADER), None)
        request_id = accepted_request_id(raw.decode("latin-1") if raw is not None else None)
        token = begin_request(request_id)
        try:
            if request_id is None:
                await self.app(scope, receive, send)
            else:
                await self.app(scope, receive, _echo(send, request_id.encode()))
        finally:
            end_request(token)


def _echo(send: Send, request_id: bytes) -> Send:
    async def echoed(message: Message) -> None:
        if message["type"] == "http.response.start":
            message["headers"] = [*message.get("headers", ()), (_HEADER, request_id)]
        await send(message)

    return echoed
