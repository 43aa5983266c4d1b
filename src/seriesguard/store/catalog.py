"""Catalog repository: series -> production/staging version and the params that serve it.

Every change bumps the series' ``revision`` to one above the highest in the table, so a
predictor can ask "what changed since revision N" (lazy invalidation by polling).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Text, cast, func, insert, select
from sqlalchemy.orm import Session

from seriesguard.core.catalog import (
    ModelVersion,
    SeriesStats,
    SeriesSummary,
    ServingEntry,
    VersionNotInCatalog,
)
from seriesguard.core.errors import InvalidInput
from seriesguard.core.monitoring import ReferenceSummary
from seriesguard.core.stages import Stage
from seriesguard.store.catalog_filters import (
    COUNTED,
    SeriesFilter,
    filter_clause,
    stage_count_columns,
)
from seriesguard.store.catalog_rows import CHANGE_COLUMNS, SeriesChange, change, entry, reference
from seriesguard.store.db import SessionFactory
from seriesguard.store.tables import ModelVersionRow, SeriesRow

__all__ = ["CatalogRepository", "SeriesChange", "SeriesFilter"]

log = logging.getLogger(__name__)


def _summary(row: SeriesRow) -> SeriesSummary:
    stats = None
    if row.stats_mean is not None and row.stats_std is not None:
        stats = SeriesStats(mean=row.stats_mean, std=row.stats_std, n_points=row.stats_points or 0)
    return SeriesSummary(
        series_id=row.series_id,
        production_version=row.production_version,
        staging_version=row.staging_version,
        latest_version=row.latest_version,
        revision=row.revision,
        updated_at=row.updated_at,
        stats=stats,
        canary_version=row.canary_version,
        canary_percentage=row.canary_percentage,
        shadow_version=row.shadow_version,
    )


def _reference_json(reference: ReferenceSummary | None) -> dict[str, Any] | None:
    return None if reference is None else reference.to_json()


def _version(row: ModelVersionRow) -> ModelVersion:
    return ModelVersion(
        series_id=row.series_id,
        version=row.version,
        stage=Stage(row.stage),
        algorithm=row.algorithm,
        params=dict(row.params),
        metrics=dict(row.metrics),
        job_id=row.job_id,
        run_id=row.run_id,
        created_at=row.created_at,
        reference=reference(row.reference),
    )


def _new_series_row(
    version: ModelVersion, stats: SeriesStats | None, *, revision: int, now: float
) -> dict[str, object]:
    production = version.stage is Stage.PRODUCTION
    return {
        "series_id": version.series_id,
        "production_version": version.version if production else None,
        "production_algorithm": version.algorithm if production else None,
        "production_params": version.params if production else None,
        "production_reference": _reference_json(version.reference) if production else None,
        "staging_version": version.version if version.stage is Stage.STAGING else None,
        "latest_version": version.version,
        "stats_mean": stats.mean if stats else None,
        "stats_std": stats.std if stats else None,
        "stats_points": stats.n_points if stats else None,
        "revision": revision,
        "updated_at": now,
    }


def _clear_canary(series: SeriesRow) -> None:
    series.canary_version = series.canary_percentage = series.canary_algorithm = None
    series.canary_params = series.canary_reference = None


def _clear_shadow(series: SeriesRow) -> None:
    series.shadow_version = series.shadow_algorithm = None
    series.shadow_params = series.shadow_reference = None


class CatalogRepository:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    def record_version(self, version: ModelVersion, *, stats: SeriesStats | None) -> None:
        """Mirror a newly registered version and the statistics of its training window."""
        with self._sessions.begin() as session:
            row = session.get(ModelVersionRow, (version.series_id, version.version))
            if row is None:
                row = ModelVersionRow(series_id=version.series_id, version=version.version)
                session.add(row)
            row.stage = version.stage.value
            row.algorithm = version.algorithm
            row.params = version.params
            row.metrics = version.metrics
            row.job_id = version.job_id
            row.run_id = version.run_id
            row.created_at = version.created_at
            if version.reference is not None:  # a mirror from elsewhere may know none
                row.reference = version.reference.to_json()
            series = self._series_row(session, version.series_id)
            series.latest_version = max(series.latest_version or 0, version.version)
            if stats is not None:
                series.stats_mean, series.stats_std = stats.mean, stats.std
                series.stats_points = stats.n_points
            session.flush()
            self._refresh(session, series)

    def present(self, series_ids: Sequence[str]) -> set[str]:
        """The series among ``series_ids`` the catalog already knows."""
        found: set[str] = set()
        with self._sessions() as session:
            for start in range(0, len(series_ids), 500):
                chunk = series_ids[start : start + 500]
                query = select(SeriesRow.series_id).where(SeriesRow.series_id.in_(chunk))
                found.update(session.scalars(query))
        return found

    def add_new_series(
        self, versions: Sequence[ModelVersion], *, stats: Sequence[SeriesStats | None]
    ) -> None:
        """Bulk form of ``record_version`` + ``set_stage`` for series the catalog does not
        know yet (an import): one version each, two multi-row inserts in one transaction."""
        if not versions:
            return
        now = time.time()
        with self._sessions.begin() as session:
            base = session.scalar(select(func.max(SeriesRow.revision))) or 0
            session.execute(
                insert(ModelVersionRow),
                [
                    {
                        "series_id": v.series_id,
                        "version": v.version,
                        "stage": v.stage.value,
                        "algorithm": v.algorithm,
                        "params": v.params,
                        "metrics": v.metrics,
                        "job_id": v.job_id,
                        "run_id": v.run_id,
                        "created_at": v.created_at,
                        "reference": _reference_json(v.reference),
                    }
                    for v in versions
                ],
            )
            session.execute(
                insert(SeriesRow),
                [
                    _new_series_row(v, s, revision=base + index + 1, now=now)
                    for index, (v, s) in enumerate(zip(versions, stats, strict=True))
                ],
            )

    def set_stage(self, *, series_id: str, version: int, stage: Stage) -> None:
        with self._sessions.begin() as session:
            row = session.get(ModelVersionRow, (series_id, version))
            if row is None:
                raise VersionNotInCatalog(
                    f"{series_id} v{version} is not in the catalog",
                    rule="version_not_found",
                    loc=("version",),
                )
            row.stage = stage.value
            session.flush()
            self._refresh(session, self._series_row(session, series_id))

    def touch(self, series_id: str) -> bool:
        """Bump the series' revision so every predictor reloads it on its next poll."""
        with self._sessions.begin() as session:
            series = session.get(SeriesRow, series_id)
            if series is None:
                return False
            self._refresh(session, series)
            return True

    def remove_version(self, *, series_id: str, version: int) -> None:
        with self._sessions.begin() as session:
            row = session.get(ModelVersionRow, (series_id, version))
            if row is not None:
                session.delete(row)
                session.flush()
                self._refresh(session, self._series_row(session, series_id))

    def set_canary(self, *, series_id: str, version: int, percentage: float) -> None:
        """Let ``version`` answer ``percentage`` % of the series' requests (0-100)."""
        if not 0.0 <= percentage <= 100.0:
            raise InvalidInput(
                f"canary percentage {percentage} is not within 0-100",
                rule="canary_percentage_range",
                loc=("percentage",),
            )
        with self._sessions.begin() as session:
            source = self._challenger_source(session, series_id, version)
            series = self._series_row(session, series_id)
            series.canary_version, series.canary_percentage = version, float(percentage)
            series.canary_algorithm = source.algorithm
            series.canary_params = dict(source.params)
            series.canary_reference = source.reference
            self._refresh(session, series)

    def clear_canary(self, *, series_id: str) -> None:
        with self._sessions.begin() as session:
            series = session.get(SeriesRow, series_id)
            if series is not None and series.canary_version is not None:
                _clear_canary(series)
                self._refresh(session, series)

    def set_shadow(self, *, series_id: str, version: int) -> None:
        """Score every request of the series with ``version`` too, never answering with it."""
        with self._sessions.begin() as session:
            source = self._challenger_source(session, series_id, version)
            series = self._series_row(session, series_id)
            series.shadow_version = version
            series.shadow_algorithm = source.algorithm
            series.shadow_params = dict(source.params)
            series.shadow_reference = source.reference
            self._refresh(session, series)

    def clear_shadow(self, *, series_id: str) -> None:
        with self._sessions.begin() as session:
            series = session.get(SeriesRow, series_id)
            if series is not None and series.shadow_version is not None:
                _clear_shadow(series)
                self._refresh(session, series)

    @staticmethod
    def _challenger_source(session: Session, series_id: str, version: int) -> ModelVersionRow:
        row = session.get(ModelVersionRow, (series_id, version))
        if row is None:
            raise VersionNotInCatalog(
                f"{series_id} v{version} is not in the catalog",
                rule="version_not_found",
                loc=("version",),
            )
        return row

    def _series_row(self, session: Session, series_id: str) -> SeriesRow:
        series = session.get(SeriesRow, series_id)
        if series is None:
            series = SeriesRow(series_id=series_id, revision=0, updated_at=time.time())
            session.add(series)
        return series

    def _refresh(self, session: Session, series: SeriesRow) -> None:
        """Derive the series row from its versions and bump its revision."""
        versions = session.scalars(
            select(ModelVersionRow).where(ModelVersionRow.series_id == series.series_id)
        ).all()
        production = max(
            (v for v in versions if v.stage == Stage.PRODUCTION.value),
            key=lambda v: v.version,
            default=None,
        )
        staging = [v.version for v in versions if v.stage == Stage.STAGING.value]
        series.production_version = production.version if production else None
        series.production_algorithm = production.algorithm if production else None
        series.production_params = dict(production.params) if production else None
        series.production_reference = production.reference if production else None
        series.staging_version = max(staging, default=None)
        # A challenger whose version was removed has nothing left to serve with. (A canary
        # that became Production is cleared by the promotion service, which knows it ended.)
        present = {v.version for v in versions}
        if series.canary_version is not None and series.canary_version not in present:
            _clear_canary(series)
        if series.shadow_version is not None and series.shadow_version not in present:
            _clear_shadow(series)
        series.revision = (session.scalar(select(func.max(SeriesRow.revision))) or 0) + 1
        series.updated_at = time.time()

    def get_series(self, series_id: str) -> SeriesSummary | None:
        with self._sessions() as session:
            row = session.get(SeriesRow, series_id)
            return None if row is None else _summary(row)

    def list_series(
        self,
        *,
        limit: int = 50,
        offset: int = 0,
        prefix: str | None = None,
        contains: str | None = None,
        stage: SeriesFilter | None = None,
    ) -> tuple[list[SeriesSummary], int]:
        """A page of series by id and how many match every filter given: the id starts with
        ``prefix``, holds ``contains`` (both literally: ``%`` and ``_`` are no wildcards),
        and the series serves ``stage``."""
        query = select(SeriesRow)
        if prefix:
            query = query.where(SeriesRow.series_id.startswith(prefix, autoescape=True))
        if contains:
            query = query.where(SeriesRow.series_id.contains(contains, autoescape=True))
        if stage is not None:
            query = query.where(filter_clause(stage))
        with self._sessions() as session:
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(query.order_by(SeriesRow.series_id).limit(limit).offset(offset))
            return [_summary(r) for r in rows], int(total)

    def stage_counts(self) -> dict[str, int]:
        """Series in total, with a Production, Staging, canary and shadow version, and
        without a Production version: one aggregate over the series table."""
        with self._sessions() as session:
            total, *counts = session.execute(select(*stage_count_columns())).one()
        found = {stage.value: int(count) for stage, count in zip(COUNTED, counts, strict=True)}
        production = found[SeriesFilter.PRODUCTION.value]
        return {"total": int(total), **found, "without_production": int(total) - production}

    def version_stage_counts(self) -> dict[str, int]:
        """Model versions per stage (every stage named, 0 when none): one GROUP BY."""
        query = select(ModelVersionRow.stage, func.count()).group_by(ModelVersionRow.stage)
        with self._sessions() as session:
            found = {stage: int(count) for stage, count in session.execute(query)}
        order = (Stage.PRODUCTION, Stage.STAGING, Stage.ARCHIVED, Stage.NONE)
        return {stage.value: found.get(stage.value, 0) for stage in order}

    def list_versions(self, series_id: str) -> list[ModelVersion]:
        with self._sessions() as session:
            rows = session.scalars(
                select(ModelVersionRow)
                .where(ModelVersionRow.series_id == series_id)
                .order_by(ModelVersionRow.version)
            )
            return [_version(r) for r in rows]

    def get_version(self, *, series_id: str, version: int) -> ModelVersion | None:
        with self._sessions() as session:
            row = session.get(ModelVersionRow, (series_id, version))
            return None if row is None else _version(row)

    def serving_entry(self, series_id: str) -> ServingEntry | None:
        with self._sessions() as session:
            row = session.get(SeriesRow, series_id)
            return None if row is None else entry(row)

    def references(self, *, first: str, last: str) -> dict[tuple[str, int], ReferenceSummary]:
        """The reference of every version of the series in [first, last] (by id) that has
        one: what a page of the fleet drift check is judged against. JSON parsed here, as
        in :meth:`changes_since`: 285,000 of them are read per check."""
        query = select(
            ModelVersionRow.series_id,
            ModelVersionRow.version,
            cast(ModelVersionRow.reference, Text),
        ).where(
            ModelVersionRow.series_id.between(first, last),
            ModelVersionRow.reference.is_not(None),
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        found: dict[tuple[str, int], ReferenceSummary] = {}
        for series_id, version, text in rows:
            if text and text != "null":
                try:
                    found[(series_id, version)] = ReferenceSummary.from_json(orjson.loads(text))
                except (KeyError, ValueError) as exc:  # one bad row must not stop a fleet check
                    log.warning(
                        "%s v%d: unreadable reference skipped (%s)", series_id, version, exc
                    )
        return found

    def changes_since(self, revision: int, *, limit: int = 20_000) -> list[SeriesChange]:
        """Series changed after ``revision``, oldest change first (warm load: revision 0), at
        most ``limit``: callers page by the last revision seen.

        Reads only the serving columns, with the parameters as JSON text parsed here: a warm
        load of 285,000 series is bound by this loop, and ORM objects would triple it."""
        query = (
            select(*CHANGE_COLUMNS)
            .where(SeriesRow.revision > revision)
            .order_by(SeriesRow.revision)
            .limit(limit)
        )
        with self._sessions() as session:
            rows = session.execute(query).all()
        return [change(row) for row in rows]
