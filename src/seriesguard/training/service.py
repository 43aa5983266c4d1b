"""Training service: submit (validate, persist, publish), run (fit, register), cancel, recover."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from seriesguard.core.catalog import SeriesStats
from seriesguard.core.detectors import DEFAULT_ALGORITHM, Detector, detector_class
from seriesguard.core.errors import Conflict, Forbidden, InvalidInput, NotFound, Unavailable
from seriesguard.core.history import insufficient_history
from seriesguard.core.jobs import (
    DEFAULT_PRIORITY,
    MAX_PRIORITY,
    MIN_PRIORITY,
    Job,
    JobStatus,
)
from seriesguard.core.monitoring import ReferenceSummary
from seriesguard.core.reference import summarise
from seriesguard.core.series import check_series_id
from seriesguard.core.validation import (
    FloatArray,
    PointLimits,
    TrainingData,
    validate_training_data,
)
from seriesguard.observability.tracing import NO_TRACING, Attributes, SpanKind, Tracing
from seriesguard.queue.base import JobQueue
from seriesguard.registry.base import ModelRegistry, TrainingRecord
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.jobs import JobRepository
from seriesguard.training.data import TrainingDataStore
from seriesguard.training.heartbeat import Heartbeat

log = logging.getLogger(__name__)
# Told when a worker takes a job ("started") and how it ended (completed, failed, cancelled,
# retried), with the seconds it took: the worker's Prometheus metrics.
JobObserver = Callable[[str, float], None]
_OUTCOMES = {JobStatus.COMPLETED: "completed", JobStatus.CANCELLED: "cancelled"}
MAX_RETRY_DELAY = 60.0  # seconds between two tries of a job whose backend is down


class HistoryWindow(Protocol):
    """What training from history reads (``seriesguard.history.store.HistoryStore``)."""

    def window(
        self, *, series_id: str, start: float, end: float, limit: int | None = None
    ) -> TrainingData: ...


@dataclass(frozen=True)
class TrainingConfig:
    algorithm: str = DEFAULT_ALGORITHM
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    priority: int = DEFAULT_PRIORITY


class TrainingService:
    def __init__(
        self,
        *,
        jobs: JobRepository,
        catalog: CatalogRepository,
        registry: ModelRegistry,
        queue: JobQueue,
        data: TrainingDataStore,
        limits: PointLimits,
        min_interval_seconds: float,
        retry_delay_seconds: float = 5.0,
        heartbeat: Heartbeat | None = None,
        tracing: Tracing = NO_TRACING,
        observe_job: JobObserver | None = None,
        history: HistoryWindow | None = None,
    ) -> None:
        self._jobs = jobs
        self._catalog = catalog
        self._registry = registry
        self._queue = queue
        self.data = data
        self._limits = limits
        self._min_interval = min_interval_seconds
        self._retry_delay = retry_delay_seconds
        self._heartbeat = heartbeat
        self._tracing = tracing
        self._observe_job = observe_job
        self._history = history

    def submit(
        self,
        *,
        series_id: str,
        timestamps: Sequence[object] | FloatArray,
        values: Sequence[float] | FloatArray,
        config: TrainingConfig,
        submitted_by: str | None = None,
    ) -> Job:
        """Validate, store the data, commit the job row, then publish it (in that order).
        ``submitted_by`` (the caller's token subject) decides who may cancel it later."""
        check_series_id(series_id)
        _check_priority(config.priority)
        detector_class(config.algorithm).check_hyperparameters(config.hyperparameters)
        data = validate_training_data(timestamps, values, limits=self._limits)
        job_id = str(uuid.uuid4())
        path = self.data.save(job_id=job_id, data=data)
        now = time.time()
        job = Job(
            id=job_id,
            series_id=series_id,
            status=JobStatus.QUEUED,
            priority=config.priority,
            algorithm=config.algorithm,
            hyperparameters=dict(config.hyperparameters),
            n_points=len(data),
            data_path=path,
            created_at=now,
            updated_at=now,
            window_start=float(data.timestamps[0]),
            window_end=float(data.timestamps[-1]),
            submitted_by=submitted_by,
        )
        try:
            self._jobs.create(job, min_interval_seconds=self._min_interval)
        except BaseException:
            with suppress(Unavailable):  # the original error is the one to report
                self.data.delete(path)
            raise
        self._publish_submitted(job)
        return job

    def submit_from_history(
        self,
        *,
        series_id: str,
        window_hours: int,
        config: TrainingConfig,
        submitted_by: str | None = None,
    ) -> Job:
        """Train on the series' stored points of ``(now - window_hours, now]``, then the
        same path as :meth:`submit` (validated, stored, job row, published). More
        points than max_points: the newest max_points. Fewer than min_points: InvalidInput
        ``insufficient_history`` saying how many were found in which window."""
        check_series_id(series_id)
        if self._history is None:
            raise Unavailable(
                "this process has no history store; send the points with the request",
                rule="history_unavailable",
                loc=("body", "config", "window_hours"),
            )
        end = time.time()
        start = end - window_hours * 3600.0
        data = self._history.window(
            series_id=series_id, start=start, end=end, limit=self._limits.max_points
        )
        if len(data) < self._limits.min_points:
            raise insufficient_history(
                found=len(data),
                needed=self._limits.min_points,
                window_hours=window_hours,
                start=start,
                end=end,
            )
        return self.submit(
            series_id=series_id,
            timestamps=data.timestamps,
            values=data.values,
            config=config,
            submitted_by=submitted_by,
        )

    def _publish_submitted(self, job: Job) -> None:
        """Publish a new job with the trace context of its publish span, so the worker's spans
        join the submitting request's trace."""
        attributes: Attributes = {
            "job.id": job.id,
            "series.id": job.series_id,
            "job.priority": job.priority,
        }
        with self._tracing.span("queue.publish", attributes, kind=SpanKind.PRODUCER) as span:
            try:
                self._queue.publish(
                    job_id=job.id, priority=job.priority, trace_context=self._tracing.carrier()
                )
            except Unavailable as exc:
                # The job is committed: the scheduler's reconciler publishes it once the broker
                # is back, so the client still gets its 202 and nothing accepted is lost.
                span.record_error(exc)
                log.warning("job %s accepted but not published yet: %s", job.id, exc.message)

    def get(self, job_id: str) -> Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFound(
                f"no training job {job_id!r}", rule="job_not_found", loc=("path", "job_id")
            )
        return job

    def list_jobs(
        self, *, series_id: str | None, status: JobStatus | None, limit: int, offset: int
    ) -> tuple[list[Job], int]:
        return self._jobs.list_jobs(series_id=series_id, status=status, limit=limit, offset=offset)

    def cancel(self, job_id: str, *, requester: str | None = None, any_job: bool = True) -> Job:
        """Cancel a queued or running job; a finished one answers 409. Without ``any_job``
        only the job's own submitter (``requester``) may cancel it."""
        job = self.get(job_id)
        if not any_job and (job.submitted_by is None or job.submitted_by != requester):
            raise Forbidden(
                f"job {job_id} was submitted by someone else; cancelling another's job needs "
                "the role ml_engineer or a stronger one",
                rule="not_job_owner",
                loc=("path", "job_id"),
            )
        moved = self._jobs.transition(
            job_id,
            source={JobStatus.QUEUED, JobStatus.PROCESSING},
            target=JobStatus.CANCELLED,
            finished_at=time.time(),
        )
        if not moved:
            job = self.get(job_id)
            raise Conflict(
                f"job {job_id} is already {job.status.value}; only queued or processing jobs "
                "can be cancelled",
                rule="job_finished",
                loc=("path", "job_id"),
            )
        return self.get(job_id)

    def recover(self) -> int:
        """Take up jobs a crash left queued or processing; returns how many were republished."""
        jobs = self._jobs.unfinished()
        for job in jobs:
            if job.status is JobStatus.PROCESSING:
                self._jobs.transition(
                    job.id, source={JobStatus.PROCESSING}, target=JobStatus.QUEUED
                )
            self._queue.publish(job_id=job.id, priority=job.priority)
        return len(jobs)

    def reconcile(self, *, queued_for: float, processing_lease: float) -> int:
        """Republish jobs stuck in ``queued`` (a publish lost between commit and broker) and
        hand back jobs ``processing`` whose lease no heartbeat renewed for ``processing_lease``
        seconds (their worker died); returns how many were republished. Safe to overlap with
        workers: claims are compare-and-set and registration runs under the job's lock."""
        now = time.time()
        expired = now - processing_lease
        abandoned = self._jobs.stale(status=JobStatus.PROCESSING, updated_before=expired)
        stuck = (
            self._jobs.stale(status=JobStatus.QUEUED, updated_before=now - queued_for)
            if self._nothing_waiting()
            else []
        )
        # Fenced on the attempt and on the lease still being expired: a heartbeat that lands
        # between the read and this write keeps the job with its live worker.
        handed_back = [
            job
            for job in abandoned
            if self._jobs.transition(
                job.id,
                source={JobStatus.PROCESSING},
                target=JobStatus.QUEUED,
                attempt=job.attempts,
                updated_before=expired,
            )
        ]
        for job in handed_back:
            log.warning("job %s exceeded its lease; back to the queue", job.id)
        for job in (*handed_back, *stuck):
            self._queue.publish(job_id=job.id, priority=job.priority)
        return len(handed_back) + len(stuck)

    def _nothing_waiting(self) -> bool:
        """True when the broker holds no ready message. Only then is a job still ``queued``
        known to have lost its message: with a backlog (a fleet retrain queues 285k jobs for
        hours) old queued jobs are simply waiting their turn, and republishing them every
        period would flood the broker with duplicates. A job whose publish failed therefore
        waits for the backlog to drain, then goes out; a broker that cannot say waits too."""
        try:
            return self._queue.depth() == 0
        except Unavailable:
            return False

    def run(self, job_id: str, trace_context: Mapping[str, str] | None = None) -> None:
        """Worker handler. Safe to call twice for one job: the claim and registration are
        idempotent, so a redelivered message never trains twice or leaves two versions.
        ``trace_context`` came with the message: the job's spans continue that trace."""
        with self._tracing.continued(
            "training.job", trace_context or {}, {"job.id": job_id}
        ) as span:
            job = self._jobs.claim(job_id)
            if job is None:  # redelivered, finished or cancelled: nothing to do
                span.set_attribute("job.claimed", False)
                return
            span.set_attribute("series.id", job.series_id)
            span.set_attribute("job.algorithm", job.algorithm)
            span.set_attribute("job.attempt", job.attempts)
            started = time.perf_counter()
            self._observe("started", 0.0)
            outcome = "failed"
            try:
                with self._holding(job):
                    self._train(job)
                outcome = self._outcome(job)
            except Unavailable as exc:  # registry or data store down: wait, do not fail the job
                span.record_error(exc)
                outcome = "retried"
                self._retry_later(job, exc)
            except Exception as exc:
                span.record_error(exc)
                log.exception("training job failed", extra={"job_id": job.id})
                self._fail(job, f"{type(exc).__name__}: {exc}")
            finally:
                self._observe(outcome, time.perf_counter() - started)

    def _observe(self, outcome: str, seconds: float) -> None:
        if self._observe_job is not None:
            self._observe_job(outcome, seconds)

    def _outcome(self, job: Job) -> str:
        """How a job that ran to its end ended: completed, cancelled meanwhile, or taken
        over by another worker after this one lost its lease (retried)."""
        try:
            status = self.get(job.id).status
        except Exception:  # the DB gone: say what we know
            return "completed"
        return _OUTCOMES.get(status, "retried")

    def hand_back_in_hand(self) -> int:
        """Give the jobs still in hand back to the queue (a worker whose shutdown ran out of
        time), so another worker takes them at once rather than after the lease; returns how
        many. Fenced on the attempt, so a job that just finished or moved on is left alone."""
        if self._heartbeat is None:
            return 0
        count = 0
        for job_id, attempt in self._heartbeat.in_hand().items():
            job = self._jobs.get(job_id)
            if job is None or not self._jobs.transition(
                job_id, source={JobStatus.PROCESSING}, target=JobStatus.QUEUED, attempt=attempt
            ):
                continue
            log.warning("job %s handed back at shutdown", job_id)
            with suppress(Unavailable):  # broker down: the reconciler publishes it later
                self._queue.publish(job_id=job_id, priority=job.priority)
            count += 1
        return count

    @contextmanager
    def _holding(self, job: Job) -> Iterator[None]:
        """Renew the job's processing lease while it is in hand (no heartbeat: no renewal)."""
        with self._heartbeat.holding(job) if self._heartbeat else nullcontext():
            yield

    def _fail(self, job: Job, error: str) -> None:
        self._jobs.transition(
            job.id,
            source={JobStatus.PROCESSING},
            target=JobStatus.FAILED,
            attempt=job.attempts,
            error=error,
            finished_at=time.time(),
        )

    def _train(self, job: Job) -> None:
        with self._tracing.span("load_data") as span:
            data = self.data.load(job.data_path)
            span.set_attribute("training.points", len(data))
        with self._tracing.span("fit", {"job.algorithm": job.algorithm}):
            detector = detector_class(job.algorithm).fit(
                data.values, data.timestamps, job.hyperparameters
            )
        stats = SeriesStats(
            mean=float(np.mean(data.values)), std=float(np.std(data.values)), n_points=len(data)
        )
        reference = summarise(data.values, data.timestamps, detector)
        # Registration, catalog record and completion of one job never overlap across
        # processes: a worker that lost its lease and the one that took the job over would
        # otherwise both find no version and both register one.
        with self._tracing.span("register"), self._jobs.job_lock(job.id):
            if not self._still_mine(job):  # cancelled while fitting, or taken over
                log.info("job %s was taken over or cancelled; leaving it", job.id)
                return
            self._register(job, detector=detector, stats=stats, data=data, reference=reference)

    def _register(
        self,
        job: Job,
        *,
        detector: Detector,
        stats: SeriesStats,
        data: TrainingData,
        reference: ReferenceSummary,
    ) -> None:
        """Register the version, record it, complete the job (the caller holds its lock)."""
        version = self._registry.register(
            TrainingRecord(
                series_id=job.series_id,
                job_id=job.id,
                detector=detector,
                metrics={
                    "mean": stats.mean,
                    "std": stats.std,
                    "training_points": float(stats.n_points),
                    "window_start": float(data.timestamps[0]),
                    "window_end": float(data.timestamps[-1]),
                },
                params={
                    "algorithm": job.algorithm,
                    "priority": str(job.priority),
                    **{k: str(v) for k, v in job.hyperparameters.items()},
                },
                tags={"series_id": job.series_id},
                first_attempt=job.attempts == 1,
                new_series=self._is_new(job.series_id),
                reference=reference,
            )
        )
        self._catalog.record_version(version, stats=stats)
        finished = self._jobs.transition(
            job.id,
            source={JobStatus.PROCESSING},
            target=JobStatus.COMPLETED,
            attempt=job.attempts,
            model_version=version.version,
            run_id=version.run_id,
            finished_at=time.time(),
            error=None,
        )
        if not finished and self.get(job.id).status is JobStatus.CANCELLED:
            # Cancel won over a late finish: take the version back out. (If another worker
            # took the job over after our lease, it owns the version: leave it.)
            self._registry.delete_version(series_id=job.series_id, version=version.version)
            self._catalog.remove_version(series_id=job.series_id, version=version.version)

    def _is_new(self, series_id: str) -> bool:
        """No version of the series in the catalog: its registered model likely does not exist."""
        summary = self._catalog.get_series(series_id)
        return summary is None or summary.latest_version is None

    def _still_mine(self, job: Job) -> bool:
        current = self.get(job.id)
        return current.status is JobStatus.PROCESSING and current.attempts == job.attempts

    def _retry_later(self, job: Job, exc: Unavailable) -> None:
        """A backend outage is not the job's fault: it waits in the queue until the backend is
        back (the seed's runbook), retried with exponential backoff, and never fails for it."""
        log.warning("%s; job %s goes back to the queue", exc.message, job.id)
        waiting = f"waiting for a backend (attempt {job.attempts}): {exc.message}"
        if self._jobs.transition(
            job.id,
            source={JobStatus.PROCESSING},
            target=JobStatus.QUEUED,
            attempt=job.attempts,
            error=waiting,
        ):
            time.sleep(min(self._retry_delay * 2 ** max(job.attempts - 1, 0), MAX_RETRY_DELAY))
            with suppress(Unavailable):  # broker down too: the reconciler publishes it later
                self._queue.publish(job_id=job.id, priority=job.priority)


def _check_priority(priority: int) -> None:
    if not MIN_PRIORITY <= priority <= MAX_PRIORITY:
        raise InvalidInput(
            f"priority must be between {MIN_PRIORITY} and {MAX_PRIORITY}, got {priority}",
            rule="priority_range",
            loc=("body", "config", "priority"),
        )
