"""The dashboard's page at ``/`` and its files at ``/ui/<file>``, public and unlisted.

One explicit route per file, made from the package's file list when the app is built: the
security layer treats only registered paths as public, so a catch-all mount would either
need a token for every stylesheet or open a whole path prefix. The page's data comes from
the JSON API, which keeps its own permissions. Responses carry an ETag (a content hash) and
``Cache-Control: no-cache``: browsers revalidate each time and get a 304 while unchanged, so
an upgraded server never serves a stale script.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import APIRouter, Request, Response

from seriesguard.api.deps import allow
from seriesguard.core.authz import Permission
from seriesguard.dashboard import Asset, load_assets

INDEX = "index.html"
PREFIX = "/ui/"
# Nothing inline and nothing from elsewhere: series ids are user input, and the page must
# not run what a crafted id could smuggle in.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
COMMON_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def router(assets: Mapping[str, Asset] | None = None) -> APIRouter:
    """The routes of the page and of each of its files (default: the packaged ones)."""
    found = load_assets() if assets is None else assets
    built = APIRouter(tags=["dashboard"])
    public = [allow(Permission.PUBLIC)]
    if INDEX in found:
        built.add_api_route(
            "/",
            _serve(found[INDEX]),
            methods=["GET"],
            dependencies=public,
            include_in_schema=False,
            name="dashboard",
        )
    for name, asset in found.items():
        built.add_api_route(
            PREFIX + name,
            _serve(asset),
            methods=["GET"],
            dependencies=public,
            include_in_schema=False,
            name=f"dashboard_{name}",
        )
    return built


def _serve(asset: Asset) -> Callable[[Request], Awaitable[Response]]:
    headers = {**COMMON_HEADERS, "ETag": asset.etag}
    if asset.media_type.startswith("text/html"):
        headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY

    async def serve(request: Request) -> Response:
        if _matches(request.headers.get("if-none-match"), asset.etag):
            return Response(status_code=304, headers=headers)
        return Response(asset.body, media_type=asset.media_type, headers=headers)

    serve.__name__ = f"dashboard_{asset.name}"
    return serve


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 weak comparison: any listed tag, with or without ``W/``, or ``*``."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags
