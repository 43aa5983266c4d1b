"""Which series a catalog listing keeps, and the fleet's counts of series by what they serve.

Both read only the ``series`` row (one per series): a filter is one column test, and every
count of :func:`stage_count_columns` comes from the same single scan, ``count(column)``
counting the rows where the column is set, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ColumnElement, func

from seriesguard.core.errors import InvalidInput
from seriesguard.store.tables import SeriesRow


class SeriesFilter(StrEnum):
    """What a listed series serves: a Production, a Staging, a canary or a shadow version,
    or no Production version at all (``none``)."""

    PRODUCTION = "production"
    STAGING = "staging"
    CANARY = "canary"
    SHADOW = "shadow"
    NONE = "none"

    @classmethod
    def parse(cls, text: str, *, loc: tuple[str | int, ...] = ("query", "stage")) -> SeriesFilter:
        try:
            return cls(text.lower())
        except ValueError:
            raise InvalidInput(
                f"unknown stage {text!r}; one of {', '.join(s.value for s in cls)}",
                rule="series_stage_filter",
                loc=loc,
            ) from None


_COLUMN = {
    SeriesFilter.PRODUCTION: SeriesRow.production_version,
    SeriesFilter.STAGING: SeriesRow.staging_version,
    SeriesFilter.CANARY: SeriesRow.canary_version,
    SeriesFilter.SHADOW: SeriesRow.shadow_version,
}


def filter_clause(wanted: SeriesFilter) -> ColumnElement[bool]:
    if wanted is SeriesFilter.NONE:
        return SeriesRow.production_version.is_(None)
    return _COLUMN[wanted].is_not(None)


# total first, then one count per served stage, in this order
COUNTED = (
    SeriesFilter.PRODUCTION,
    SeriesFilter.STAGING,
    SeriesFilter.CANARY,
    SeriesFilter.SHADOW,
)


def stage_count_columns() -> tuple[ColumnElement[int], ...]:
    return (func.count(), *(func.count(_COLUMN[stage]) for stage in COUNTED))
