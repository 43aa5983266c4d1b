"""Wiring: build every component from one Settings object; start and stop them in order."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Engine

from seriesguard.core.breaker import BreakerSnapshot
from seriesguard.core.errors import Unavailable
from seriesguard.core.jobs import JobStatus
from seriesguard.core.monitoring import SECONDS_PER_HOUR
from seriesguard.core.validation import PointLimits
from seriesguard.history.wiring import History, build_history
from seriesguard.monitoring.fleet import FleetDriftCheck
from seriesguard.monitoring.service import MonitoringService
from seriesguard.monitoring.wiring import Monitoring, build_monitoring
from seriesguard.notify.base import Notifier
from seriesguard.notify.factory import create_notifier
from seriesguard.observability.metrics import Metrics
from seriesguard.observability.metrics_share import MetricsExporter
from seriesguard.observability.tracing import Tracing, create_tracing
from seriesguard.promotion.rollout import PromotionService
from seriesguard.promotion.service import ModelService
from seriesguard.promotion.wiring import build_promotions, promotion_tasks
from seriesguard.queue.base import JobQueue
from seriesguard.queue.factory import create_queue
from seriesguard.registry.base import ModelRegistry
from seriesguard.registry.factory import create_registry
from seriesguard.scheduler.jobs import scheduled_tasks
from seriesguard.scheduler.leader import leader_lock_for
from seriesguard.scheduler.runs import SchedulerRunRepository
from seriesguard.scheduler.service import PeriodicTask, Scheduler
from seriesguard.serving.disk_cache import DiskModelCache
from seriesguard.serving.model_table import ModelTable
from seriesguard.serving.predictor import Predictor
from seriesguard.settings import Settings
from seriesguard.store.audit import AuditRepository
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade
from seriesguard.store.drift import DriftRepository
from seriesguard.store.jobs import JobRepository
from seriesguard.store.promotions import PromotionRepository
from seriesguard.training.data_factory import create_data_store
from seriesguard.training.heartbeat import Heartbeat
from seriesguard.training.service import TrainingService

log = logging.getLogger(__name__)


class Role(StrEnum):
    """What a process does; ``seriesguard serve`` is every role at once (``ALL_IN_ONE``, the
    default of :func:`build_runtime`, leaves the scheduler out: in-process tests start none)."""

    API = "api"
    PREDICTOR = "predictor"
    WORKER = "worker"
    SCHEDULER = "scheduler"


ALL_IN_ONE = frozenset({Role.API, Role.PREDICTOR, Role.WORKER})


@dataclass
class Runtime:
    settings: Settings
    roles: frozenset[Role]
    engine: Engine
    jobs: JobRepository
    catalog: CatalogRepository
    registry: ModelRegistry
    queue: JobQueue
    training: TrainingService
    models: ModelService
    predictor: Predictor
    heartbeat: Heartbeat
    audit: AuditRepository
    metrics: Metrics
    # /metrics of this process; with settings.metrics_dir, of every process of the server
    metrics_exporter: MetricsExporter
    tracing: Tracing
    monitoring_parts: Monitoring
    scheduler_runs: SchedulerRunRepository  # recorded cron runs (weekly retraining, drift)
    history: History
    notifier: Notifier  # the log plus the configured alert channels (notify/)
    promotions: PromotionService  # canary and shadow rollouts (promotion/rollout.py)
    _stop: threading.Event = field(default_factory=threading.Event)
    _started: threading.Event = field(default_factory=threading.Event)
    _poller: threading.Thread | None = None
    _scheduler: Scheduler | None = None

    @property
    def monitoring(self) -> MonitoringService:
        return self.monitoring_parts.service

    @property
    def drift_check(self) -> FleetDriftCheck:
        return self.monitoring_parts.drift_check

    @property
    def drift_runs(self) -> DriftRepository:
        return self.monitoring_parts.drift_runs

    @property
    def embedded(self) -> bool:
        return self.settings.broker_url.startswith("memory://")

    @property
    def ready(self) -> bool:
        """Started, and for a predictor, warm-loaded: a pod must not serve an empty table."""
        warm = Role.PREDICTOR not in self.roles or self.predictor.ready
        return self._started.is_set() and warm

    def breakers(self) -> list[BreakerSnapshot]:
        """The state of the breakers around this process's remote backends."""
        found = (backend.breaker for backend in (self.registry, self.training.data))
        return [breaker.snapshot() for breaker in found if breaker is not None]

    def start(self) -> None:
        """Migrate, take up jobs a crash left behind, start workers, warm-load the models."""
        self.metrics_exporter.start()
        upgrade(self.engine)
        if self.roles & {Role.API, Role.WORKER}:
            for backend in (self.registry, self.training.data):
                try:
                    backend.prepare()
                except Unavailable as exc:
                    log.warning("%s at start; jobs wait until it is back", exc.message)
        if Role.WORKER in self.roles:
            self._start_worker()
        if Role.PREDICTOR in self.roles:
            loaded = self.predictor.warm_load()
            log.info("predictor ready with %d production model(s) in memory", loaded)
            self._poller = threading.Thread(target=self._poll, name="catalog-poller", daemon=True)
            self._poller.start()
            self.monitoring_parts.flusher.start()
            self.history.flusher.start()
        if Role.SCHEDULER in self.roles:
            self._scheduler = self._build_scheduler()
            self._scheduler.start()
        self._started.set()

    def _build_scheduler(self) -> Scheduler:
        settings = self.settings
        reconcile = PeriodicTask(
            name="reconcile_jobs",
            interval_seconds=settings.reconcile_interval_seconds,
            action=lambda: self.training.reconcile(
                queued_for=settings.queued_republish_after_seconds,
                processing_lease=settings.processing_lease_seconds,
            ),
        )
        retention = PeriodicTask(
            name="prune_monitoring",
            interval_seconds=SECONDS_PER_HOUR,
            action=self.monitoring_parts.retention.prune,
        )
        prune_history = PeriodicTask(
            name="prune_history",
            interval_seconds=SECONDS_PER_HOUR,
            action=self.history.service.prune,
        )
        lock = leader_lock_for(self.engine, home=settings.home)
        tasks = [reconcile, retention, prune_history, *scheduled_tasks(self)]
        tasks += promotion_tasks(self.promotions, settings)
        return Scheduler(lock=lock, tasks=tasks, metrics=self.metrics)

    def _start_worker(self) -> None:
        if self.embedded:
            # One process owns the in-process queue: whatever the job table says is queued or
            # processing was lost with the previous process. A broker keeps its own messages.
            recovered = self.training.recover()
            if recovered:
                log.info("took up %d unfinished training job(s)", recovered)
        self.heartbeat.start()
        self.queue.start(self.training.run)

    def _hand_back_in_hand(self) -> None:
        try:
            self.training.hand_back_in_hand()
        except Exception:  # the database may be down too: the lease hands them back later
            log.warning("could not hand back the jobs in hand", exc_info=True)

    def _poll(self) -> None:
        while not self._stop.wait(self.settings.catalog_poll_seconds):
            try:
                self.predictor.poll_catalog()
            except Exception:
                log.warning("catalog poll failed; serving what is in memory", exc_info=True)

    def stop(self) -> None:
        self._stop.set()
        if self._scheduler is not None:
            self._scheduler.stop()
        if Role.WORKER in self.roles:
            self.queue.stop(timeout=30)
            # Jobs still in hand after the grace period go back to the queue now, rather than
            # after their lease; the heartbeat keeps renewing them until then.
            self._hand_back_in_hand()
            self.heartbeat.stop()
        if self._poller is not None:
            self._poller.join(5)
        if Role.PREDICTOR in self.roles:
            self.monitoring_parts.flusher.stop()  # the last counts go to the DB
            self.history.flusher.stop()  # and the last points
        self.notifier.close(timeout=5.0)  # alerts still queued get their last chance
        self.tracing.shutdown()
        self.registry.close()
        self.engine.dispose()
        self.metrics_exporter.stop()  # last: what the stop itself counted is kept


def build_runtime(settings: Settings, *, roles: frozenset[Role] = ALL_IN_ONE) -> Runtime:
    settings.home.mkdir(parents=True, exist_ok=True)
    engine = create_db_engine(
        settings.resolved_database_url(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
    )
    sessions = session_factory(engine)
    jobs = JobRepository(sessions)
    heartbeat = Heartbeat(jobs=jobs, interval_seconds=settings.heartbeat_interval())
    catalog = CatalogRepository(sessions)
    registry = create_registry(
        tracking_uri=settings.resolved_tracking_uri(),
        artifact_root=settings.resolved_artifact_root(),
        experiment_name=settings.experiment_name,
        breaker_policy=settings.breaker_policy(),
        log_runs=settings.mlflow_log_runs,
        # Only a miss of the predictor asks the registry: don't import MLflow until then.
        deferred=not roles & {Role.API, Role.WORKER},
    )
    queue = create_queue(
        broker_url=settings.broker_url,
        concurrency=settings.worker_concurrency,
        queue_name=settings.broker_queue,
    )
    metrics = Metrics()
    tracing = create_tracing(
        endpoint=settings.otel_exporter_otlp_endpoint,
        service_name=settings.otel_service_name or service_name(roles),
    )
    monitoring = build_monitoring(settings, sessions=sessions, catalog=catalog, metrics=metrics)
    history = build_history(settings, sessions=sessions, metrics=metrics)
    notifier = create_notifier(settings, metrics=metrics)
    predictor = Predictor(
        catalog=catalog,
        registry=registry,
        disk_cache=DiskModelCache(settings.model_cache_dir),
        table=ModelTable(
            lru_size=settings.cache_size, resident_max_bytes=settings.resident_max_bytes
        ),
        negative_cache_seconds=settings.negative_cache_seconds,
        fallback_enabled=settings.fallback_enabled,
        stats=monitoring.recorder,
        history=history.recorder,
        tracing=tracing,
        observe_load=lambda source, seconds: metrics.model_load.observe(seconds, source),
    )
    training = TrainingService(
        jobs=jobs,
        catalog=catalog,
        registry=registry,
        queue=queue,
        data=create_data_store(
            url=settings.resolved_data_url(),
            s3_endpoint_url=settings.s3_endpoint_url,
            breaker_policy=settings.breaker_policy(),
        ),
        limits=PointLimits(settings.min_training_points, settings.max_training_points),
        min_interval_seconds=settings.training_min_interval_seconds,
        heartbeat=heartbeat,
        tracing=tracing,
        observe_job=lambda outcome, seconds: observe_job(metrics, outcome, seconds),
        history=history.store,
    )
    # Only a process that serves predictions reloads on promotion; the others are told through
    # the catalog, which every predictor polls.
    on_change = predictor.reload if Role.PREDICTOR in roles else None
    promotion_records = PromotionRepository(sessions)
    models = ModelService(
        registry=registry,
        catalog=catalog,
        on_change=on_change,
        active_promotion=promotion_records.active_id,
    )
    promotions = build_promotions(
        settings,
        sessions=sessions,
        promotions=promotion_records,
        registry=registry,
        catalog=catalog,
        models=models,
        notifier=notifier,
        on_change=on_change,
    )
    if Role.PREDICTOR in roles:
        bind_predictor_metrics(metrics, predictor)
    if roles & {Role.API, Role.WORKER}:
        bind_fleet_metrics(metrics, jobs=jobs, drift_runs=monitoring.drift_runs)
    return Runtime(
        settings=settings,
        roles=roles,
        engine=engine,
        jobs=jobs,
        catalog=catalog,
        registry=registry,
        queue=queue,
        training=training,
        models=models,
        predictor=predictor,
        heartbeat=heartbeat,
        audit=AuditRepository(sessions),
        metrics=metrics,
        metrics_exporter=MetricsExporter(metrics, folder=settings.metrics_dir),
        tracing=tracing,
        monitoring_parts=monitoring,
        scheduler_runs=SchedulerRunRepository(sessions),
        history=history,
        notifier=notifier,
        promotions=promotions,
    )


def service_name(roles: frozenset[Role]) -> str:
    """``seriesguard-predictor``, ``seriesguard-api-predictor-worker`` (serve), ..."""
    return "-".join(["seriesguard", *sorted(roles)]) if roles else "seriesguard-cli"


def bind_fleet_metrics(
    metrics: Metrics, *, jobs: JobRepository, drift_runs: DriftRepository
) -> None:
    """Figures of the whole fleet, read from the DB when scraped (every API and worker pod
    reports the same numbers: the rules take their max)."""
    metrics.training_queue_depth.set_function(
        lambda: float(jobs.count_with_status(JobStatus.QUEUED))
    )
    metrics.drift_detected.set_function(
        lambda: {kind: float(count) for kind, count in drift_runs.totals().items()}
    )


def observe_job(metrics: Metrics, outcome: str, seconds: float) -> None:
    if outcome == "started":
        metrics.training_in_progress.inc()
        return
    metrics.training_in_progress.dec()
    metrics.training_jobs.inc(outcome)
    if outcome == "completed":
        metrics.training_duration.observe(seconds)


def bind_predictor_metrics(metrics: Metrics, predictor: Predictor) -> None:
    """The model table's figures, read when a snapshot is taken (per process, merged)."""
    metrics.cache_hits.set_function(lambda: float(predictor.table.hits))
    metrics.cache_misses.set_function(lambda: float(predictor.table.misses))
    metrics.models_in_memory.set_function(lambda: float(len(predictor.table)))
