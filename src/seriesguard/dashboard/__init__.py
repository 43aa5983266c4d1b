"""The operators' web dashboard: static files shipped inside the package.

The page is plain HTML, CSS and ES modules (no build step, nothing fetched from elsewhere);
:mod:`seriesguard.api.routes.dashboard` serves them. They are read once, at app build, so a
request costs a dict lookup and the files need not exist on disk (a zipped install works).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib.resources import files

__all__ = ["MEDIA_TYPES", "Asset", "load_assets"]

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class Asset:
    """One file of the page, with what its response needs."""

    name: str
    body: bytes
    media_type: str
    etag: str  # strong validator: a hash of the content, quoted as HTTP wants it

    @classmethod
    def of(cls, name: str, body: bytes) -> Asset:
        suffix = name[name.rfind(".") :]
        digest = hashlib.sha256(body).hexdigest()[:32]
        return cls(name=name, body=body, media_type=MEDIA_TYPES[suffix], etag=f'"{digest}"')


def load_assets() -> dict[str, Asset]:
    """Every servable file of ``static/`` by name; files of other kinds are left out."""
    folder = files(__name__).joinpath("static")
    found: dict[str, Asset] = {}
    for entry in folder.iterdir():
        name = entry.name
        if entry.is_file() and any(name.endswith(s) for s in MEDIA_TYPES):
            found[name] = Asset.of(name, entry.read_bytes())
    return dict(sorted(found.items()))
