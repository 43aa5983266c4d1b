"""The one error body every answer of ours uses, 4xx and 5xx alike, on every route:

    {"error": {"code": rule, "message": text, "details": [{"type", "loc", "msg"}, ...]}}

``code`` is the rule that was broken (the first one when several were), ``message`` says it
for a person, and ``details`` lists every broken rule with its place (``["body", "values",
17]``), pydantic's type checks and our domain rules alike. Kept framework-free so the ASGI
layers in front of FastAPI (body limit, fast predict, authentication) answer the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, Field

Loc = Sequence[str | int]


class ErrorDetail(BaseModel):
    type: str = Field(description="The rule that was broken.")
    loc: list[str | int] = Field(description="Where: body/query/path/header, then the field.")
    msg: str = Field(description="What is wrong, for a person.")


class ErrorInfo(BaseModel):
    code: str = Field(description="The (first) rule that was broken, e.g. series_id_pattern.")
    message: str = Field(description="What went wrong, for a person.")
    details: list[ErrorDetail] = Field(description="Every broken rule with its place.")


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: ErrorInfo


def error_content(code: str, loc: Loc, message: str) -> dict[str, Any]:
    """The body of one broken rule."""
    detail = {"type": code, "loc": list(loc), "msg": message}
    return {"error": {"code": code, "message": message, "details": [detail]}}


def errors_content(details: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The body of several broken rules (a validation with many faults); never empty."""
    entries = [
        {"type": str(d.get("type", "invalid")), "loc": list(d.get("loc", ())), "msg": d["msg"]}
        for d in details
    ] or [{"type": "invalid_request", "loc": [], "msg": "invalid request"}]
    first = entries[0]
    message = first["msg"] if len(entries) == 1 else f"{first['msg']} (and {len(entries) - 1} more)"
    return {"error": {"code": first["type"], "message": message, "details": entries}}


def error_bytes(code: str, loc: Loc, message: str) -> bytes:
    return orjson.dumps(error_content(code, loc, message))


def www_authenticate(rule: str) -> str:
    """The RFC 6750 challenge of a 401: no error code when no token was sent at all."""
    if rule == "missing_token":
        return 'Bearer realm="seriesguard"'
    return f'Bearer realm="seriesguard", error="invalid_token", error_description="{rule}"'
