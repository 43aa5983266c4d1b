"""Local copy of every model loaded from the registry: the fallback when MLflow is down."""

from __future__ import annotations

import os
from pathlib import Path


class DiskModelCache:
    def __init__(self, root: Path) -> None:
        self._root = root

    def put(self, *, series_id: str, version: int, blob: bytes) -> None:
        folder = self._root / series_id
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"v{version}.json"
        partial = folder / f".v{version}.json.partial"
        partial.write_bytes(blob)
        partial.replace(target)
        pointer = folder / ".production.partial"
        pointer.write_text(str(version))
        os.replace(pointer, folder / "production")

    def get_production(self, series_id: str) -> tuple[int, bytes] | None:
        folder = self._root / series_id
        try:
            version = int((folder / "production").read_text())
            return version, (folder / f"v{version}.json").read_bytes()
        except (OSError, ValueError):
            return None
