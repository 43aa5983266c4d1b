"""The predictor: memory -> catalog -> MLflow -> local cache -> z-score fallback (seed).

A series' canary and shadow versions come with its catalog entry and are loaded beside the
production model (``LoadedModel.canary``/``shadow``). The MLflow and disk-cache fallbacks
serve production alone: they are the way through an outage of the metadata DB, and a
promotion under way waits for it to come back."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from seriesguard.core.catalog import Challenger, ServingEntry
from seriesguard.core.detectors import (
    ZScoreDetector,
    detector_from_bytes,
    detector_from_params,
)
from seriesguard.core.monitoring import FALLBACK_VERSION, ReferenceSummary
from seriesguard.history.recorder import HistoryRecorder
from seriesguard.observability.tracing import NO_TRACING, Tracing
from seriesguard.registry.base import ModelRegistry, RegistryUnavailable
from seriesguard.serving.disk_cache import DiskModelCache
from seriesguard.serving.model_table import LoadedChallenger, LoadedModel, ModelTable
from seriesguard.serving.scorer import ModelInfo, Scorer, reference_edges
from seriesguard.serving.stats import StatsRecorder
from seriesguard.store.catalog import CatalogRepository

log = logging.getLogger(__name__)

FALLBACK_SIGMA = 3.0
MAX_CACHED_FALLBACKS = 100_000
DEFAULT_MAX_SERIES = 400_000
# model_load_duration_seconds{source}: where the answer of a miss came from
_LOAD_SOURCE = {"catalog": "catalog", "mlflow": "mlflow", "cache": "cache"}
LoadObserver = Callable[[str, float], None]  # (source, seconds)
CATALOG_PAGE = 20_000


def _challenger(entry: ServingEntry, challenger: Challenger) -> LoadedChallenger | None:
    """The canary or shadow of ``entry`` ready to score; None (production serves alone) when
    its parameters cannot make a detector: a bad challenger must not take the series down."""
    try:
        detector = detector_from_params(challenger.algorithm, challenger.params)
    except Exception:
        log.warning(
            "%s: v%d (canary/shadow) cannot be loaded; production serves alone",
            entry.series_id,
            challenger.version,
            exc_info=True,
        )
        return None
    return LoadedChallenger(
        version=challenger.version,
        detector=detector,
        edges=reference_edges(challenger.reference),
        percentage=challenger.percentage or 0.0,
    )


class Predictor:
    def __init__(
        self,
        *,
        catalog: CatalogRepository,
        registry: ModelRegistry,
        disk_cache: DiskModelCache,
        table: ModelTable,
        negative_cache_seconds: float,
        fallback_enabled: bool = True,
        stats: StatsRecorder | None = None,
        tracing: Tracing = NO_TRACING,
        observe_load: LoadObserver | None = None,
        history: HistoryRecorder | None = None,
    ) -> None:
        self._catalog = catalog
        self._registry = registry
        self._disk = disk_cache
        self.table = table
        self._negative = negative_cache_seconds
        self.fallback_enabled = fallback_enabled
        # Every answer is counted per series (serving/stats.py); a process that serves
        # nothing flushes nothing, so a default recorder costs nothing.
        self.stats = stats or StatsRecorder(source="local", max_series=DEFAULT_MAX_SERIES)
        # Every scored point is kept for the history store (history/recorder.py); off: no-op.
        self.history = history or HistoryRecorder(max_pending=1, enabled=False)
        self.tracing = tracing
        self._observe_load = observe_load
        self._revision = 0
        self._fallbacks: dict[str, tuple[float, Scorer]] = {}
        self._ready = threading.Event()
        self._poll_lock = threading.Lock()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def warm_load(self) -> int:
        """Load every production model of the catalog; the predictor is ready afterwards."""
        loaded = self.poll_catalog()
        self._ready.set()
        return loaded

    def poll_catalog(self) -> int:
        """Apply catalog changes since the last poll (lazy invalidation); returns changes.
        Pages through the catalog, so the first poll is the whole warm load."""
        applied = 0
        with self._poll_lock:
            while True:
                changes = self._catalog.changes_since(self._revision, limit=CATALOG_PAGE)
                for change in changes:
                    if change.entry is None:
                        self.table.drop(change.series_id)
                    else:
                        self._install(change.entry, size_bytes=change.params_bytes)
                    self._revision = max(self._revision, change.revision)
                applied += len(changes)
                if len(changes) < CATALOG_PAGE:
                    return applied

    def reload(self, series_id: str) -> LoadedModel | None:
        """Eager reload (admin API): forget what is in memory and load it again now."""
        self.table.drop(series_id)
        entry = self._catalog.serving_entry(series_id)
        return self._install(entry) if entry else self._load_from_registry(series_id)

    def _install(self, entry: ServingEntry, *, size_bytes: int | None = None) -> LoadedModel:
        detector = detector_from_params(entry.algorithm, entry.params)
        model = LoadedModel(
            series_id=entry.series_id,
            version=entry.version,
            detector=detector,
            origin="catalog",
            size_bytes=len(detector.to_bytes()) if size_bytes is None else size_bytes,
            edges=reference_edges(entry.reference),
            canary=None if entry.canary is None else _challenger(entry, entry.canary),
            shadow=None if entry.shadow is None else _challenger(entry, entry.shadow),
        )
        self.table.put(model)
        if self._fallbacks:
            self._fallbacks.pop(model.series_id, None)
        return model

    def scorer(self, series_id: str) -> Scorer:
        """The model that answers for ``series_id`` now, walking the fallback chain."""
        return self.resident_scorer(series_id) or self.load_scorer(series_id)

    def resident_scorer(self, series_id: str) -> Scorer | None:
        """Memory only: no I/O, safe to call on the event loop."""
        model = self.table.get(series_id)
        return None if model is None else model.resident

    def load_scorer(self, series_id: str) -> Scorer:
        """The rest of the chain after memory; may touch the DB, MLflow or the disk."""
        started = time.perf_counter()
        scorer = self._load_scorer(series_id)
        if self._observe_load is not None:
            self._observe_load(
                _LOAD_SOURCE.get(scorer.info.loaded_from, "fallback"), time.perf_counter() - started
            )
        return scorer

    def _load_scorer(self, series_id: str) -> Scorer:
        if not self.table.known_absent(series_id):
            model = self._load(series_id)
            if model is not None:
                return model.first_answer()
            self.table.mark_absent(series_id, for_seconds=self._negative)
        return self._fallback(series_id)

    def _load(self, series_id: str) -> LoadedModel | None:
        try:
            entry = self._catalog.serving_entry(series_id)
        except Exception:  # the metadata DB being down must not stop predictions
            log.warning("catalog unavailable while loading %s", series_id, exc_info=True)
            entry = None
        if entry is not None:
            return self._install(entry)
        return self._load_from_registry(series_id)

    def _load_from_registry(self, series_id: str) -> LoadedModel | None:
        try:
            version = self._registry.get_by_alias(series_id=series_id, alias="production")
            if version is None:
                return None
            blob = self._registry.load_model_bytes(series_id=series_id, version=version.version)
            self._disk.put(series_id=series_id, version=version.version, blob=blob)
            return self._put(
                series_id, version.version, blob, origin="mlflow", reference=version.reference
            )
        except RegistryUnavailable:
            cached = self._disk.get_production(series_id)
            if cached is None:
                return None
            return self._put(series_id, cached[0], cached[1], origin="cache")

    def _put(
        self,
        series_id: str,
        version: int,
        blob: bytes,
        *,
        origin: str,
        reference: ReferenceSummary | None = None,
    ) -> LoadedModel:
        model = LoadedModel(
            series_id=series_id,
            version=version,
            detector=detector_from_bytes(blob),
            origin=origin,
            size_bytes=len(blob),
            edges=reference_edges(reference),
        )
        self.table.put(model)
        self._fallbacks.pop(model.series_id, None)
        return model

    def _fallback(self, series_id: str) -> Scorer:
        """Z-score on the series' historical statistics, or conservative defaults (seed).
        Kept as long as the series is remembered as absent, so an unknown series costs one
        catalog read per ``negative_cache_seconds``, not one per request."""
        cached = self._fallbacks.get(series_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        scorer = self._fallback_scorer(series_id)
        if len(self._fallbacks) >= MAX_CACHED_FALLBACKS:  # unknown ids must not grow memory
            self._fallbacks.clear()
        self._fallbacks[series_id] = (time.monotonic() + self._negative, scorer)
        return scorer

    def _fallback_scorer(self, series_id: str) -> Scorer:
        stats = None
        try:
            summary = self._catalog.get_series(series_id)
            stats = summary.stats if summary else None
        except Exception:
            log.warning("catalog unavailable for fallback of %s", series_id, exc_info=True)
        source = "statistics" if stats else "default"
        detector = ZScoreDetector(
            mean=stats.mean if stats else 0.0,
            std=stats.std if stats else 1.0,
            threshold_sigma=FALLBACK_SIGMA,
        )
        info = ModelInfo(
            version="fallback",
            stage="fallback",
            type="fallback_zscore",
            loaded_from=source,
            confidence="low",
        )
        return Scorer(detector=detector, info=info, key=(series_id, FALLBACK_VERSION))
