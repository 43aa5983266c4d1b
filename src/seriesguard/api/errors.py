"""Exception handlers: every error leaves in the one body of :mod:`seriesguard.api.error_body`.

Domain errors carry their rule and place; pydantic's checks become the same entries; an
unexpected exception is logged with its stack here and answered with a bare 500 that tells
nothing about the inside.
"""

from __future__ import annotations

import logging
import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from seriesguard.api.body_limit import BodyTooLarge, too_large_body
from seriesguard.api.error_body import error_content, errors_content, www_authenticate
from seriesguard.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    NotImplementedYet,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from seriesguard.store.errors import DATABASE_DOWN, RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)

STATUS = {
    InvalidInput: 422,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    NotImplementedYet: 501,
    Unavailable: 503,
}


def status_of(exc: DomainError) -> int:
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = www_authenticate(exc.rule)
    elif isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    elif isinstance(exc, Unavailable):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return JSONResponse(
        error_content(exc.rule, exc.loc, exc.message),
        status_code=status_of(exc),
        headers=headers,
    )


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(errors_content(exc.errors()), status_code=422)


_HTTP_RULES: dict[int, tuple[str, list[str | int]]] = {
    404: ("route_not_found", ["path"]),
    405: ("method_not_allowed", ["path"]),
    415: ("unsupported_media_type", ["header", "content-type"]),
}


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    rule, loc = _HTTP_RULES.get(exc.status_code, ("http_error", ["path"]))
    return JSONResponse(
        error_content(rule, loc, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def body_too_large(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyTooLarge)
    return Response(
        too_large_body(exc.limit),
        status_code=413,
        media_type="application/json",
        headers={"Connection": "close"},
    )


async def database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("metadata DB unavailable on %s %r: %s", request.method, request.url.path, exc)
    return JSONResponse(
        error_content("database_unavailable", [], "the metadata database is unavailable; retry"),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %r", request.method, request.url.path)
    return JSONResponse(
        error_content("internal_error", [], "internal error; see the server log"), status_code=500
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for kind in DATABASE_DOWN:
        app.add_exception_handler(kind, database_down)
    app.add_exception_handler(Exception, unexpected_error)
