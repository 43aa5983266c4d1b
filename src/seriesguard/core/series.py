"""Series identifiers, registered model names and version labels."""

from __future__ import annotations

import re

from seriesguard.core.errors import InvalidInput

SERIES_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
_SERIES_ID = re.compile(SERIES_ID_PATTERN)
_VERSION = re.compile(r"^[vV]?([1-9][0-9]{0,9})$")
MODEL_NAME_PREFIX = "anomaly-detector-"


def check_series_id(series_id: str, *, loc: tuple[str | int, ...] = ("path", "series_id")) -> str:
    """Return ``series_id`` if it may name a series; it ends up in model names and paths."""
    if not _SERIES_ID.fullmatch(series_id):
        raise InvalidInput(
            f"series_id {series_id[:140]!r} must match {SERIES_ID_PATTERN}",
            rule="series_id_pattern",
            loc=loc,
        )
    return series_id


# Versions are 32-bit integers in MLflow's registry and in our tables.
MAX_VERSION = 2**31 - 1


def parse_version(label: str | int, *, loc: tuple[str | int, ...] = ("path", "version")) -> int:
    """``5``, ``"5"`` and ``"v5"`` all name version 5."""
    if isinstance(label, int) and not isinstance(label, bool) and 0 < label <= MAX_VERSION:
        return label
    match = _VERSION.fullmatch(str(label))
    if not match or int(match.group(1)) > MAX_VERSION:
        raise InvalidInput(
            f"version {str(label)[:40]!r} must be a positive integer up to {MAX_VERSION}, "
            "optionally prefixed 'v'",
            rule="version_format",
            loc=loc,
        )
    return int(match.group(1))


def model_name(series_id: str) -> str:
    """Registered model name of a series in the model registry.

    MLflow refuses ':' in model names, which series ids allow (``sensor-0042:x``); it becomes
    '~', which no series id holds, so two series never share a name."""
    return f"{MODEL_NAME_PREFIX}{series_id.replace(':', '~')}"


def version_label(version: int) -> str:
    """The seed writes versions as ``v5``."""
    return f"v{version}"
