"""The OpenAPI schema as the app really behaves: our error body, the bearer scheme, and each
operation's permission.

FastAPI documents its own ``HTTPValidationError`` for 422s; every error of ours is
:class:`~seriesguard.api.error_body.ErrorBody` instead, so the schema says so for every status
(a ``default`` response besides the ones listed). Each operation carries ``x-permission`` and
``x-minimum-role`` from its :class:`~seriesguard.api.security.Authorize` policy: the source of
the role matrix in docs/security.md and of the test that walks every route.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

from seriesguard.api.error_body import ErrorBody
from seriesguard.api.security import api_routes, route_permission
from seriesguard.core.authz import Permission, weakest_role_with

_ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
_ERROR_CONTENT = {"application/json": {"schema": _ERROR_REF}}
_FASTAPI_ERRORS = ("HTTPValidationError", "ValidationError")
_GUARDED = {
    "401": "No bearer token, or one that is not valid (expired, wrong issuer or audience, bad "
    "signature); error.code says which.",
    "403": "The token's roles do not grant this operation.",
    "429": "The caller's request rate is over its limit; see Retry-After.",
}
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def install_openapi(app: FastAPI, *, models: tuple[type[BaseModel], ...] = ()) -> None:
    """Replace ``app.openapi`` with one that adds the above (built once, then cached)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()  # cached by FastAPI on the app: the changes below stay
        components = schema.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        documented: tuple[type[BaseModel], ...] = (ErrorBody, *models)
        for model in documented:
            add_model(schemas, model)
        for name in _FASTAPI_ERRORS:
            schemas.pop(name, None)
        components["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        }
        permissions = {
            (method.lower(), route.path_format): route_permission(route)
            for route in api_routes(app)
            for method in route.methods or ()
        }
        for path, item in schema.get("paths", {}).items():
            for method in METHODS:
                if method in item:
                    document(item[method], permissions.get((method, path)))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def add_model(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    """``model`` and the models it nests, as components of their own."""
    body = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, nested in body.pop("$defs", {}).items():
        schemas.setdefault(name, nested)
    schemas.setdefault(model.__name__, body)


def document(operation: dict[str, Any], permission: Permission | None) -> None:
    responses = operation.setdefault("responses", {})
    for status, response in responses.items():
        if not status.startswith("2"):
            response["content"] = _ERROR_CONTENT
    responses.setdefault("default", {"description": "Any other error.", "content": _ERROR_CONTENT})
    if permission is None:
        return
    operation["x-permission"] = permission.value
    role = weakest_role_with(permission)
    operation["x-minimum-role"] = role.value if role else None
    if permission is Permission.PUBLIC:
        operation["security"] = []
        return
    operation["security"] = [{"bearerAuth": []}]
    for status, description in _GUARDED.items():
        responses.setdefault(status, {"description": description, "content": _ERROR_CONTENT})
