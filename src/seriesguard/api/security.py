"""Who is calling and may they: the bearer token, the request rate, the route's permission.

Two layers, so that a request nobody may make costs as little as possible:

- :class:`SecurityMiddleware`, in front of everything (the predict fast path included), reads
  the ``Authorization`` header, verifies the token (a dict lookup once a token has been seen),
  refuses a missing or bad one with 401 before any body is read, applies the per-principal
  rate limit (429 with ``Retry-After``), and leaves the caller in the ASGI scope.
- :class:`Authorize`, a FastAPI dependency on every route, checks the route's one
  :class:`~seriesguard.core.authz.Permission` against the caller's roles (403), and hands the
  caller to the route (who submitted a job, who promoted a model).

Without authentication configured, the server listens on loopback only
(:func:`check_bind_address`), and the caller is the machine's operator with every permission.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from seriesguard.api.error_body import error_bytes, www_authenticate
from seriesguard.core.authz import LOCAL_OPERATOR, Permission, Principal, weakest_role_with
from seriesguard.core.errors import Forbidden, Unauthenticated, Unavailable
from seriesguard.security.ratelimit import RateLimiter
from seriesguard.security.tokens import TokenVerifier, bearer_token

log = logging.getLogger(__name__)

PRINCIPAL = "seriesguard.principal"
_WHERE = ("header", "authorization")
ANONYMOUS = Principal(subject="anonymous", roles=frozenset(), authenticated=False)


class SecurityMiddleware:
    """Authentication and the request rate limit, before routing and before any body."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier | None,
        limiter: RateLimiter | None,
        public_paths: frozenset[str],
    ) -> None:
        self.app = app
        self._verifier = verifier
        self._limiter = limiter
        self._public = public_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        public = scope["path"] in self._public
        try:
            principal = await self._principal(scope, public=public)
        except Unauthenticated as exc:
            challenge = [(b"www-authenticate", www_authenticate(exc.rule).encode())]
            await _answer(send, 401, error_bytes(exc.rule, _WHERE, exc.message), challenge)
            return
        except Unavailable as exc:  # no signing keys to be had (the JWKS endpoint is down)
            retry = [(b"retry-after", b"10")]
            await _answer(send, 503, error_bytes(exc.rule, _WHERE, exc.message), retry)
            return
        scope[PRINCIPAL] = principal
        if self._limiter is not None and not public and principal.authenticated:
            wait = await self._limiter.acquire(f"sub:{principal.subject}")
            if wait > 0:
                await _refuse_rate(send, principal, wait)
                return
        await self.app(scope, receive, send)

    async def _principal(self, scope: Scope, *, public: bool) -> Principal:
        if self._verifier is None:
            return LOCAL_OPERATOR
        header = _header(scope, b"authorization")
        if header is None and public:
            return ANONYMOUS
        return await self._verifier.verify(bearer_token(header))


async def _refuse_rate(send: Send, principal: Principal, wait: float) -> None:
    seconds = max(1, math.ceil(min(wait, 3600.0)))
    message = f"request rate of {principal.subject!r} over its limit; retry in {seconds} s"
    await _answer(
        send,
        429,
        error_bytes("rate_limited", _WHERE, message),
        [(b"retry-after", str(seconds).encode())],
    )


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    head = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *headers,
    ]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


class Authorize:
    """The policy of one route: ``Depends(Authorize(Permission.PROMOTE))``.

    Every route of the app has exactly one (:func:`check_every_route_has_a_policy` refuses to
    build an app otherwise), and the OpenAPI schema shows it as ``x-permission``.
    """

    def __init__(self, permission: Permission) -> None:
        self.permission = permission

    async def __call__(self, request: Request) -> Principal:
        principal: Principal | None = request.scope.get(PRINCIPAL)
        if principal is None:  # the middleware is missing: refuse rather than guess
            raise Unauthenticated("no authentication layer in this app", rule="missing_token")
        if self.permission is Permission.PUBLIC:
            return principal
        if principal is ANONYMOUS:
            raise Unauthenticated("a bearer token is required", rule="missing_token")
        if not principal.can(self.permission):
            role = weakest_role_with(self.permission)
            raise Forbidden(
                f"{self.permission.value} needs the role {role} or a stronger one; "
                f"the token grants {sorted(principal.roles) or 'no role'}",
                rule="forbidden",
            )
        return principal

    def __repr__(self) -> str:
        return f"Authorize({self.permission.value})"


def route_permission(route: APIRoute) -> Permission | None:
    """The permission a route's :class:`Authorize` dependency demands; None without one."""
    found = [call.permission for call in _calls(route.dependant)]
    return found[0] if len(found) == 1 else None


def _calls(dependant: Any) -> Iterator[Authorize]:
    for sub in dependant.dependencies:
        if isinstance(sub.call, Authorize):
            yield sub.call
        yield from _calls(sub)


def api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every operation of the app, routers included (FastAPI nests included routers)."""
    for context in iter_route_contexts(app.routes):
        if isinstance(context.route, APIRoute):
            yield context.route


def check_every_route_has_a_policy(app: FastAPI) -> None:
    """Fail closed at start-up: a route added without a policy would be open to every token."""
    missing = [
        f"{sorted(route.methods or ())} {route.path}"
        for route in api_routes(app)
        if route_permission(route) is None
    ]
    if missing:
        raise RuntimeError(f"routes without exactly one Authorize policy: {missing}")


def public_paths(app: FastAPI) -> frozenset[str]:
    """Paths answered without a token: the probes, and the API's own documentation."""
    paths = {
        route.path for route in api_routes(app) if route_permission(route) is Permission.PUBLIC
    }
    docs = (app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    return frozenset(paths | {path for path in docs if path})


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class UnsafeBind(Exception):
    """The server was asked to listen beyond loopback with nobody checking who calls."""


def check_bind_address(*, host: str, auth_enabled: bool) -> None:
    if auth_enabled or is_loopback(host):
        return
    raise UnsafeBind(
        f"refusing to listen on {host}: authentication is not configured, so anyone who can "
        "reach this address could promote models and read training data. Either bind "
        "127.0.0.1 (SERIESGUARD_HOST), or configure bearer tokens: SERIESGUARD_AUTH_JWKS_URI "
        "(with SERIESGUARD_AUTH_ISSUER and SERIESGUARD_AUTH_AUDIENCES), or "
        "SERIESGUARD_AUTH_PUBLIC_KEY_FILE, or SERIESGUARD_AUTH_SECRET. See docs/security.md."
    )
