"""What a promotion's state means for the registry and the serving catalog, applied.

Every effect is idempotent and derived from the state alone, so a crash between any two
writes is repaired by applying the same state again. MLflow is written first and the catalog
second (DESIGN.md 5): a registry outage leaves the catalog, and so every predictor, as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from seriesguard.core.catalog import SeriesSummary
from seriesguard.core.rollout import Promotion, State, Strategy
from seriesguard.core.stages import Stage
from seriesguard.promotion.service import ModelService
from seriesguard.registry.base import ModelRegistry
from seriesguard.store.catalog import CatalogRepository

log = logging.getLogger(__name__)

CANARY_ALIAS = "canary"
SHADOW_ALIAS = "shadow"


def serving_state(p: Promotion) -> State:
    """The state whose traffic a promotion wants: a paused one keeps what it had."""
    return p.resumes_to if p.state is State.PAUSED else p.state


class RolloutEffects:
    def __init__(
        self,
        *,
        registry: ModelRegistry,
        catalog: CatalogRepository,
        models: ModelService,
        on_change: Callable[[str], object] | None = None,
    ) -> None:
        self._registry = registry
        self._catalog = catalog
        self._models = models
        self._on_change = on_change or (lambda _series_id: None)

    def in_place(self, p: Promotion) -> bool:
        """Whether the catalog already serves what a running or paused promotion wants.

        The catalog is written last, so when it is right the registry is too: one DB read a
        tick instead of a registry call. Pending and finished states answer False."""
        state = serving_state(p)
        if state not in (State.CANARY, State.SHADOW):
            return False
        summary = self._catalog.get_series(p.series_id)
        if summary is None:
            return False
        if state is State.SHADOW:
            return summary.shadow_version == p.version
        return _canary_in_place(summary, p)

    def apply(self, p: Promotion) -> None:
        """Bring the registry and the catalog to what ``p``'s state wants. Raises the
        registry's Unavailable when it is down: the caller retries on its next tick."""
        state = serving_state(p)
        if state is State.CANARY:
            self._canary(p)
        elif state is State.SHADOW:
            self._shadow(p)
        elif state is State.COMPLETING:
            self._complete(p)
        elif state in (State.ROLLING_BACK, State.REJECTING):
            self._withdraw(p)
        else:
            return  # finished: its effects were applied before it was
        self._on_change(p.series_id)

    def _canary(self, p: Promotion) -> None:
        self._registry.set_alias(series_id=p.series_id, alias=CANARY_ALIAS, version=p.version)
        if p.strategy is Strategy.SHADOW:  # a shadow that passed: it stops shadowing
            self._registry.set_alias(series_id=p.series_id, alias=SHADOW_ALIAS, version=None)
        self._ensure_in_catalog(p)
        self._catalog.set_canary(series_id=p.series_id, version=p.version, percentage=p.percentage)
        if p.strategy is Strategy.SHADOW:
            self._catalog.clear_shadow(series_id=p.series_id)

    def _shadow(self, p: Promotion) -> None:
        self._registry.set_alias(series_id=p.series_id, alias=SHADOW_ALIAS, version=p.version)
        self._ensure_in_catalog(p)
        self._catalog.set_shadow(series_id=p.series_id, version=p.version)

    def _complete(self, p: Promotion) -> None:
        """The challenger becomes Production (the champion Archived), then stops being a
        challenger. Between the two the predictor routes the canary share to the same
        version it serves: harmless."""
        current = self._registry.get_version(series_id=p.series_id, version=p.version)
        if current is None:
            log.error("%s v%d vanished from the registry before completing", p.series_id, p.version)
        elif current.stage is not Stage.PRODUCTION:
            self._models.make_production(
                series_id=p.series_id, version=p.version, archive_existing=True
            )
        self._clear(p)

    def _withdraw(self, p: Promotion) -> None:
        """The challenger stops answering and scoring, and is Archived (unless someone made
        it Production meanwhile: then it stays, and only the challenger routes go)."""
        self._clear(p)
        current = self._registry.get_version(series_id=p.series_id, version=p.version)
        if current is None or current.stage in (Stage.ARCHIVED, Stage.PRODUCTION):
            return
        self._registry.set_stage(series_id=p.series_id, version=p.version, stage=Stage.ARCHIVED)
        if self._catalog.get_version(series_id=p.series_id, version=p.version) is None:
            self._catalog.record_version(current, stats=None)
        self._catalog.set_stage(series_id=p.series_id, version=p.version, stage=Stage.ARCHIVED)

    def _clear(self, p: Promotion) -> None:
        for alias in (CANARY_ALIAS, SHADOW_ALIAS):
            self._registry.set_alias(series_id=p.series_id, alias=alias, version=None)
        self._catalog.clear_canary(series_id=p.series_id)
        self._catalog.clear_shadow(series_id=p.series_id)

    def _ensure_in_catalog(self, p: Promotion) -> None:
        """The catalog copies a challenger's parameters from its mirror of the version: a
        version the catalog missed (a sync not yet run) is mirrored from the registry."""
        if self._catalog.get_version(series_id=p.series_id, version=p.version) is not None:
            return
        found = self._registry.get_version(series_id=p.series_id, version=p.version)
        if found is not None:
            self._catalog.record_version(found, stats=None)


def _canary_in_place(summary: SeriesSummary, p: Promotion) -> bool:
    if summary.canary_version != p.version or summary.canary_percentage is None:
        return False
    if p.strategy is Strategy.SHADOW and summary.shadow_version is not None:
        return False
    return abs(summary.canary_percentage - p.percentage) < 1e-9
