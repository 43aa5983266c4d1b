"""Every error leaves as FastAPI's own shape: ``{"detail": [{"type", "loc", "msg"}]}``.

``type`` names the rule that was broken and ``loc`` the place (``["body", "values", 17]``), for
our domain rules and pydantic's type checks alike. Nothing unexpected leaks as a bare 500.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from seriesguard.core.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotFound,
    NotImplementedYet,
    RateLimited,
    Unavailable,
)
from seriesguard.store.errors import DATABASE_DOWN, RETRY_AFTER_SECONDS

log = logging.getLogger(__name__)

STATUS = {
    InvalidInput: 422,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
    NotImplementedYet: 501,
    Unavailable: 503,
}


def error_body(rule: str, loc: list[str | int], msg: str) -> dict[str, Any]:
    return {"detail": [{"type": rule, "loc": loc, "msg": msg}]}


def status_of(exc: DomainError) -> int:
    for kind, status in STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    elif isinstance(exc, Unavailable):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return JSONResponse(
        error_body(exc.rule, list(exc.loc), exc.message),
        status_code=status_of(exc),
        headers=headers,
    )


async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    detail = [
        {"type": e.get("type", "invalid"), "loc": list(e.get("loc", ())), "msg": e.get("msg", "")}
        for e in exc.errors()
    ]
    return JSONResponse({"detail": detail}, status_code=422)


_HTTP_RULES: dict[int, tuple[str, list[str | int]]] = {
    404: ("route_not_found", ["path"]),
    405: ("method_not_allowed", ["path"]),
    415: ("unsupported_media_type", ["header", "content-type"]),
}


async def http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    rule, loc = _HTTP_RULES.get(exc.status_code, ("http_error", ["path"]))
    return JSONResponse(
        error_body(rule, loc, str(exc.detail)),
        status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def database_down(request: Request, exc: Exception) -> JSONResponse:
    log.warning("metadata DB unavailable on %s %s: %s", request.method, request.url.path, exc)
    return JSONResponse(
        error_body("database_unavailable", [], "the metadata database is unavailable; retry"),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return JSONResponse(
        error_body("internal_error", [], "internal error; see the server log"), status_code=500
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for kind in DATABASE_DOWN:
        app.add_exception_handler(kind, database_down)
    app.add_exception_handler(Exception, unexpected_error)
