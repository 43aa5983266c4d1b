"""Serving entries read from catalog rows: production plus the canary and shadow challengers.

``changes_since`` reads the JSON columns as text and parses them here: a warm load of 285,000
series is bound by this loop, and ORM objects would triple it. The challenger columns are NULL
for nearly every series, so they cost one ``is None`` test each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Text, cast

from seriesguard.core.catalog import Challenger, ServingEntry
from seriesguard.core.monitoring import ReferenceSummary
from seriesguard.store.tables import SeriesRow


@dataclass(frozen=True)
class SeriesChange:
    """A series whose serving state changed; ``entry`` is None when nothing is in Production."""

    series_id: str
    revision: int
    entry: ServingEntry | None
    params_bytes: int = 0  # size of the serialised parameters: decides resident or LRU


# the columns ``change`` takes, in its order
CHANGE_COLUMNS = (
    SeriesRow.series_id,
    SeriesRow.revision,
    SeriesRow.production_version,
    SeriesRow.production_algorithm,
    cast(SeriesRow.production_params, Text),
    cast(SeriesRow.production_reference, Text),
    SeriesRow.canary_version,
    SeriesRow.canary_percentage,
    SeriesRow.canary_algorithm,
    cast(SeriesRow.canary_params, Text),
    cast(SeriesRow.canary_reference, Text),
    SeriesRow.shadow_version,
    SeriesRow.shadow_algorithm,
    cast(SeriesRow.shadow_params, Text),
    cast(SeriesRow.shadow_reference, Text),
)


def reference(document: dict[str, Any] | None) -> ReferenceSummary | None:
    return None if document is None else ReferenceSummary.from_json(document)


def _reference_text(text: str | None) -> ReferenceSummary | None:
    return None if text is None or text == "null" else reference(orjson.loads(text))


def _challenger_text(
    version: int | None,
    algorithm: str | None,
    params: str | None,
    reference_text: str | None,
    percentage: float | None = None,
) -> Challenger | None:
    if version is None or algorithm is None or params is None or params == "null":
        return None
    return Challenger(
        version=version,
        algorithm=algorithm,
        params=orjson.loads(params),
        reference=_reference_text(reference_text),
        percentage=percentage,
    )


def change(row: Sequence[Any]) -> SeriesChange:
    """One row of :data:`CHANGE_COLUMNS` as a change."""
    series_id, revision, version, algorithm, params, reference_text = row[:6]
    if version is None or algorithm is None or params is None or params == "null":
        return SeriesChange(series_id, revision, None)
    c_version, c_percentage, c_algorithm, c_params, c_reference = row[6:11]
    s_version, s_algorithm, s_params, s_reference = row[11:15]
    canary = shadow = None
    if c_version is not None:
        canary = _challenger_text(c_version, c_algorithm, c_params, c_reference, c_percentage)
    if s_version is not None:
        shadow = _challenger_text(s_version, s_algorithm, s_params, s_reference)
    entry = ServingEntry(
        series_id=series_id,
        version=version,
        algorithm=algorithm,
        params=orjson.loads(params),
        revision=revision,
        reference=_reference_text(reference_text),
        canary=canary,
        shadow=shadow,
    )
    return SeriesChange(series_id, revision, entry, params_bytes=len(params))


def _challenger(
    version: int | None,
    algorithm: str | None,
    params: dict[str, Any] | None,
    document: dict[str, Any] | None,
    percentage: float | None = None,
) -> Challenger | None:
    if version is None or algorithm is None or params is None:
        return None
    return Challenger(
        version=version,
        algorithm=algorithm,
        params=dict(params),
        reference=reference(document),
        percentage=percentage,
    )


def entry(row: SeriesRow) -> ServingEntry | None:
    """The serving entry of an ORM row (one series: ``serving_entry``)."""
    if row.production_version is None or row.production_algorithm is None:
        return None
    return ServingEntry(
        series_id=row.series_id,
        version=row.production_version,
        algorithm=row.production_algorithm,
        params=dict(row.production_params or {}),
        revision=row.revision,
        reference=reference(row.production_reference),
        canary=_challenger(
            row.canary_version,
            row.canary_algorithm,
            row.canary_params,
            row.canary_reference,
            row.canary_percentage,
        ),
        shadow=_challenger(
            row.shadow_version, row.shadow_algorithm, row.shadow_params, row.shadow_reference
        ),
    )
