"""Promotion of versions between stages (seed flow 2) and read models of the catalog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from seriesguard.core.catalog import ModelVersion, SeriesSummary
from seriesguard.core.errors import Conflict, InvalidInput, NotFound
from seriesguard.core.series import check_series_id
from seriesguard.core.stages import Stage
from seriesguard.registry.base import ModelRegistry
from seriesguard.store.catalog import CatalogRepository, SeriesFilter

STRATEGIES = ("direct", "canary", "shadow")


@dataclass(frozen=True)
class PromotionResult:
    version: int
    previous_version: int | None
    archived: bool


class ModelService:
    def __init__(
        self,
        *,
        registry: ModelRegistry,
        catalog: CatalogRepository,
        on_change: Callable[[str], object] | None = None,
        active_promotion: Callable[[str], str | None] | None = None,
    ) -> None:
        self._registry = registry
        self._catalog = catalog
        self._on_change = on_change or (lambda _series_id: None)
        # The id of the series' unfinished canary/shadow promotion, if any: a direct promotion
        # or a rollback under it would change the champion the rollout is judged against.
        self._active_promotion = active_promotion or (lambda _series_id: None)

    def list_series(
        self,
        *,
        limit: int,
        offset: int,
        prefix: str | None = None,
        contains: str | None = None,
        stage: str | None = None,
    ) -> tuple[list[SeriesSummary], int]:
        """``stage``: production, staging, canary, shadow or none (no Production version)."""
        wanted = None if stage is None else SeriesFilter.parse(stage)
        return self._catalog.list_series(
            limit=limit, offset=offset, prefix=prefix, contains=contains, stage=wanted
        )

    def series(
        self, series_id: str, *, loc: tuple[str, ...] = ("path", "series_id")
    ) -> tuple[SeriesSummary, list[ModelVersion]]:
        check_series_id(series_id, loc=loc)
        summary = self._catalog.get_series(series_id)
        if summary is None:
            raise NotFound(
                f"series {series_id!r} has no model versions", rule="series_not_found", loc=loc
            )
        return summary, self._catalog.list_versions(series_id)

    def promote(
        self, *, series_id: str, version: int, strategy: str, archive_existing: bool
    ) -> PromotionResult:
        """Staging -> Production; the previous Production version is archived on request.

        MLflow is written first and the catalog second (DESIGN.md 5), so a failure between
        the two leaves the registry of record right and the catalog repairable by a sync.
        """
        check_series_id(series_id)
        if strategy != "direct":
            # canary and shadow are rollouts over time: PromotionService (promotion/rollout.py)
            raise InvalidInput(
                f"strategy {strategy!r} is a rollout: start it with the promotion service",
                rule="strategy_not_direct",
                loc=("body", "strategy"),
            )
        self._refuse_during_rollout(series_id)
        return self.make_production(
            series_id=series_id, version=version, archive_existing=archive_existing
        )

    def _refuse_during_rollout(self, series_id: str) -> None:
        promotion_id = self._active_promotion(series_id)
        if promotion_id is not None:
            raise Conflict(
                f"{series_id} has a canary/shadow promotion in progress ({promotion_id}); roll "
                f"it back first (POST /api/v1/promotions/{promotion_id}/rollback)",
                rule="promotion_in_progress",
                loc=("path", "series_id"),
            )

    def make_production(
        self, *, series_id: str, version: int, archive_existing: bool
    ) -> PromotionResult:
        """The direct promotion itself, without the rollout guard: also how a completed
        canary or shadow makes its version Production."""
        target = self._registry.get_version(series_id=series_id, version=version)
        if target is None:
            raise NotFound(
                f"{series_id} has no version {version}",
                rule="version_not_found",
                loc=("path", "version"),
            )
        if target.stage is not Stage.STAGING:
            raise Conflict(
                f"version {version} of {series_id} is in stage {target.stage.value}; only a "
                "Staging version can be promoted",
                rule="version_not_in_staging",
                loc=("path", "version"),
            )
        previous = self._registry.get_by_alias(series_id=series_id, alias="production")
        self._registry.set_stage(series_id=series_id, version=version, stage=Stage.PRODUCTION)
        self._mirror(target, Stage.PRODUCTION)
        archived = False
        if previous is not None and previous.version != version:
            demoted = Stage.ARCHIVED if archive_existing else Stage.NONE
            self._registry.set_stage(series_id=series_id, version=previous.version, stage=demoted)
            self._mirror(previous, demoted)
            archived = archive_existing
        self._on_change(series_id)
        return PromotionResult(
            version=version,
            previous_version=previous.version if previous and previous.version != version else None,
            archived=archived,
        )

    def rollback(self, *, series_id: str, to_version: int | None = None) -> PromotionResult:
        """Production goes back to an earlier version (by default the newest Archived one
        older than the current), and the current is Archived. Same order as a promotion:
        MLflow first, then the catalog, then the predictor."""
        check_series_id(series_id)
        self._refuse_during_rollout(series_id)
        versions = self._registry.list_versions(series_id=series_id)
        if not versions:
            raise NotFound(
                f"series {series_id!r} has no model versions",
                rule="series_not_found",
                loc=("path", "series_id"),
            )
        current = self._registry.get_by_alias(series_id=series_id, alias="production")
        target = self._rollback_target(series_id, versions, current, to_version)
        self._registry.set_stage(
            series_id=series_id, version=target.version, stage=Stage.PRODUCTION
        )
        self._mirror(target, Stage.PRODUCTION)
        if current is not None:
            self._registry.set_stage(
                series_id=series_id, version=current.version, stage=Stage.ARCHIVED
            )
            self._mirror(current, Stage.ARCHIVED)
        self._on_change(series_id)
        return PromotionResult(
            version=target.version,
            previous_version=current.version if current else None,
            archived=current is not None,
        )

    def _rollback_target(
        self,
        series_id: str,
        versions: list[ModelVersion],
        current: ModelVersion | None,
        to_version: int | None,
    ) -> ModelVersion:
        serving = current.version if current else None
        if to_version is not None:
            named = next((v for v in versions if v.version == to_version), None)
            if named is None:
                raise NotFound(
                    f"{series_id} has no version {to_version}",
                    rule="version_not_found",
                    loc=("body", "to_version"),
                )
            if named.version == serving:
                raise Conflict(
                    f"version {to_version} of {series_id} is already in Production",
                    rule="already_in_production",
                    loc=("body", "to_version"),
                )
            return named
        earlier = [
            v
            for v in versions
            if v.stage is Stage.ARCHIVED and (serving is None or v.version < serving)
        ]
        if not earlier:
            raise Conflict(
                f"{series_id} has no Archived version older than its production one to go "
                "back to; name one with to_version",
                rule="nothing_to_roll_back_to",
                loc=("path", "series_id"),
            )
        return max(earlier, key=lambda v: v.version)

    def _mirror(self, version: ModelVersion, stage: Stage) -> None:
        if self._catalog.get_version(series_id=version.series_id, version=version.version) is None:
            self._catalog.record_version(version, stats=None)
        self._catalog.set_stage(series_id=version.series_id, version=version.version, stage=stage)
