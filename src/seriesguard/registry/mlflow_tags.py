"""Reading back what seriesguard keeps in a version's tags (JSON written by ``mlflow_writes``).

A version made elsewhere, or a damaged tag, reads as empty rather than failing the read."""

from __future__ import annotations

import json
from typing import Any

from seriesguard.core.monitoring import ReferenceSummary


def json_dict(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def reference_tag(raw: str | None) -> ReferenceSummary | None:
    """The ``reference`` tag; a version made elsewhere, or a damaged tag, has none."""
    document = json_dict(raw)
    if not document:
        return None
    try:
        return ReferenceSummary.from_json(document)
    except (KeyError, ValueError, TypeError):
        return None
