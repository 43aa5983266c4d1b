"""Wiring: build every component from one Settings object; start and stop them in order."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy import Engine

from seriesguard.core.validation import PointLimits
from seriesguard.promotion.service import ModelService
from seriesguard.queue.base import JobQueue
from seriesguard.queue.factory import create_queue
from seriesguard.registry.base import ModelRegistry, RegistryUnavailable
from seriesguard.registry.factory import create_registry
from seriesguard.serving.disk_cache import DiskModelCache
from seriesguard.serving.model_table import ModelTable
from seriesguard.serving.predictor import Predictor
from seriesguard.settings import Settings
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade
from seriesguard.store.jobs import JobRepository
from seriesguard.training.data import TrainingDataStore
from seriesguard.training.service import TrainingService

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    jobs: JobRepository
    catalog: CatalogRepository
    registry: ModelRegistry
    queue: JobQueue
    training: TrainingService
    models: ModelService
    predictor: Predictor
    _stop: threading.Event = field(default_factory=threading.Event)
    _poller: threading.Thread | None = None

    def start(self) -> None:
        """Migrate, take up jobs a crash left behind, start workers, warm-load the models."""
        upgrade(self.engine)
        try:
            self.registry.prepare()
        except RegistryUnavailable as exc:
            log.warning("registry unavailable at start; jobs wait until it is back: %s", exc)
        recovered = self.training.recover()
        if recovered:
            log.info("took up %d unfinished training job(s)", recovered)
        self.queue.start(self.training.run)
        loaded = self.predictor.warm_load()
        log.info("predictor ready with %d production model(s) in memory", loaded)
        self._poller = threading.Thread(target=self._poll, name="catalog-poller", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.settings.catalog_poll_seconds):
            try:
                self.predictor.poll_catalog()
            except Exception:
                log.warning("catalog poll failed; serving what is in memory", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        self.queue.stop(timeout=30)
        if self._poller is not None:
            self._poller.join(5)
        self.registry.close()
        self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_db_engine(settings.resolved_database_url())
    sessions = session_factory(engine)
    jobs = JobRepository(sessions)
    catalog = CatalogRepository(sessions)
    registry = create_registry(
        tracking_uri=settings.resolved_tracking_uri(),
        artifact_root=settings.resolved_artifact_root(),
        experiment_name=settings.experiment_name,
    )
    queue = create_queue(broker_url=settings.broker_url, concurrency=settings.worker_concurrency)
    predictor = Predictor(
        catalog=catalog,
        registry=registry,
        disk_cache=DiskModelCache(settings.model_cache_dir),
        table=ModelTable(
            lru_size=settings.cache_size, resident_max_bytes=settings.resident_max_bytes
        ),
        negative_cache_seconds=settings.negative_cache_seconds,
        fallback_enabled=settings.fallback_enabled,
    )
    training = TrainingService(
        jobs=jobs,
        catalog=catalog,
        registry=registry,
        queue=queue,
        data=TrainingDataStore(settings.data_dir),
        limits=PointLimits(settings.min_training_points, settings.max_training_points),
        min_interval_seconds=settings.training_min_interval_seconds,
    )
    models = ModelService(registry=registry, catalog=catalog, on_change=predictor.reload)
    return Runtime(
        settings=settings,
        engine=engine,
        jobs=jobs,
        catalog=catalog,
        registry=registry,
        queue=queue,
        training=training,
        models=models,
        predictor=predictor,
    )
