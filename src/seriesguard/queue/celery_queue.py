"""Job queue on RabbitMQ through Celery (``amqp://`` and ``pyamqp://`` broker URLs).

Why an embedded Celery worker rather than a hand-written consumer loop: Celery already does the
parts of a worker that must not lose jobs — late acks with a bounded prefetch, reconnection
after a broker restart, acks handed from the pool threads back to the connection's own thread
(py-amqp connections are not thread-safe; kombu's hub does the hand-off), and timed retries.
Its bare ``WorkController`` installs no signal handlers and touches no logging set-up, so it
runs in a background thread and ``Runtime`` starts and stops it like the in-process pool.

Delivery rules (DESIGN.md §5: the job table is the truth, the queue is transport):

* one durable classic queue with ``x-max-priority``; persistent JSON messages that carry only
  the job id, its priority and trace context (a header); a publish waits for RabbitMQ's confirm;
* late ack and a prefetch of one message per worker thread: a message is acked after the
  handler returns, so a consumer that dies mid-job leaves it unacked and RabbitMQ hands it to
  another consumer. ``TrainingService.run`` claims jobs with compare-and-set, so a redelivery
  never trains twice;
* a handler that raises is retried with exponential backoff; after ``max_retries`` retries the
  message is rejected without requeue and RabbitMQ dead-letters it into ``<queue_name>.dead``,
  where an operator can inspect or shovel it back;
* one embedded worker per process: kombu's event loop, Celery's shutdown flag and its default
  app (which the thread pool looks tasks up in) are process globals, so a second concurrent
  ``start`` is refused.

Vendor objects and exceptions stay in this module; callers see ``JobQueue`` and
``BrokerUnavailable``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import socket
import threading
import time
import uuid
from typing import Any, Final

from celery import Celery
from celery.bootsteps import RUN
from celery.exceptions import Reject, WorkerShutdown
from celery.worker import state as worker_state
from kombu.asynchronous import get_event_loop, set_event_loop
from kombu.entity import Exchange, Queue
from kombu.exceptions import KombuError, OperationalError

from seriesguard.core.errors import Unavailable
from seriesguard.queue.base import Carrier, JobHandler, JobQueue, carried_trace_context

log = logging.getLogger(__name__)

TASK_NAME: Final = "seriesguard.run_job"
TRACE_HEADER: Final = "trace_context"
_EX_OK: Final = 0
_NOT_FOUND: Final = 404
# kombu's own retry, per publish: one immediate reconnect for a pooled connection the broker
# closed while idle. Longer outages are retried, with a deadline, in ``publish``.
_RECONNECT_ONCE: Final = dict(max_retries=1, interval_start=0, interval_step=0.2, interval_max=0.2)
# Held while an embedded worker runs in this process (see the module docstring).
_WORKER_SLOT = threading.Lock()


class BrokerUnavailable(Unavailable):
    """RabbitMQ could not be reached within the time budget (503).

    Raised by ``publish`` and ``depth``. A job row committed before a failed publish stays
    ``queued``; the reconciler republishes it once the broker is back.
    """

    rule = "broker_unavailable"


class CeleryQueue(JobQueue):
    """``JobQueue`` on RabbitMQ; see the module docstring for the delivery rules."""

    def __init__(
        self,
        *,
        broker_url: str,
        concurrency: int,
        queue_name: str = "seriesguard.training",
        max_priority: int = 10,
        max_retries: int = 5,
        retry_backoff_seconds: float = 5.0,
        retry_backoff_max_seconds: float = 600.0,
        publish_timeout_seconds: float = 10.0,
        ready_timeout_seconds: float = 10.0,
    ) -> None:
        if not 1 <= max_priority <= 255:
            raise ValueError(f"max_priority must be within 1..255, got {max_priority}")
        if max_retries < 0 or retry_backoff_seconds < 0:
            raise ValueError("max_retries and retry_backoff_seconds must not be negative")
        if publish_timeout_seconds <= 0:
            raise ValueError("publish_timeout_seconds must be positive")
        self._concurrency = concurrency
        self._queue_name = queue_name
        self._max_priority = max_priority
        self._max_retries = max_retries
        self._backoff = retry_backoff_seconds
        self._backoff_max = retry_backoff_max_seconds
        self._ready_timeout = ready_timeout_seconds
        self._work_queue, self._dead_queue = _topology(queue_name, max_priority)
        self._publish_timeout = publish_timeout_seconds
        self._app = _build_app(
            broker_url=broker_url,
            work_queue=self._work_queue,
            connect_timeout=min(4.0, publish_timeout_seconds),
        )
        probe = self._app.connection_for_write()  # builds the transport only; no I/O
        # worth retrying: the broker is down, restarting, or dropped this connection
        self._unreachable: tuple[type[BaseException], ...] = (
            OperationalError,
            *probe.connection_errors,
            *probe.recoverable_connection_errors,
        )
        # not worth retrying: the broker refused the operation (e.g. a queue declared with
        # other arguments); still a backend problem for the caller, not a bad request
        self._refused: tuple[type[BaseException], ...] = (KombuError, *probe.channel_errors)
        self._task = self._register_task()
        self._handler: JobHandler | None = None
        self._worker: Any = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # -- producer side ------------------------------------------------------------------

    def publish(self, *, job_id: str, priority: int, trace_context: Carrier | None = None) -> None:
        """Send ``job_id`` and wait for RabbitMQ's confirm. While the broker is unreachable,
        retry with backoff for up to ``publish_timeout_seconds`` (plus one connection attempt),
        then raise ``BrokerUnavailable``; a duplicate from a retried publish is harmless."""
        level = max(0, min(self._max_priority, priority))
        started = time.monotonic()
        for attempt in itertools.count():
            try:
                self._task.apply_async(
                    args=(job_id,),
                    priority=level,
                    headers={TRACE_HEADER: dict(trace_context)} if trace_context else None,
                    queue=self._work_queue,
                    declare=[self._work_queue, self._dead_queue],
                    retry=True,
                    retry_policy=_RECONNECT_ONCE,
                    confirm_timeout=self._publish_timeout,
                )
                return
            except self._unreachable as exc:
                waited = time.monotonic() - started
                if waited >= self._publish_timeout:
                    raise BrokerUnavailable(
                        f"could not publish training job {job_id} to RabbitMQ in "
                        f"{waited:.1f}s: {exc}"
                    ) from exc
                pause = min(2.0, 0.25 * 2**attempt, self._publish_timeout - waited)
                log.warning("RabbitMQ unreachable (%s); publish retry in %.2fs", exc, pause)
                time.sleep(pause)
            except self._refused as exc:
                log.error("RabbitMQ refused training job %s: %s", job_id, exc)
                raise BrokerUnavailable(f"RabbitMQ refused training job {job_id}: {exc}") from exc

    def depth(self) -> int:
        """Ready messages in the work queue, by a passive declare on a pooled connection: one
        round trip, no consumer, cheap enough to poll for metrics and autoscaling. Tried twice,
        because a pooled connection the broker closed while idle fails once before reconnecting.
        """
        try:
            try:
                return self._ready_messages()
            except self._unreachable:
                return self._ready_messages()
        except self._unreachable as exc:
            raise BrokerUnavailable(f"could not read the queue depth from RabbitMQ: {exc}") from exc
        except self._refused as exc:
            raise BrokerUnavailable(f"RabbitMQ refused the queue depth: {exc}") from exc

    def _ready_messages(self) -> int:
        with self._app.connection_or_acquire() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0.2)
            channel = conn.channel()
            try:
                declared = channel.queue_declare(queue=self._queue_name, passive=True)
            except self._refused as exc:
                if getattr(exc, "code", None) == _NOT_FOUND:
                    return 0  # never declared: nothing was ever published
                raise
            finally:
                with contextlib.suppress(Exception):  # the broker closes it on a 404
                    channel.close()
            return int(declared.message_count)

    # -- consumer side ------------------------------------------------------------------

    def start(self, handler: JobHandler) -> None:
        """Consume with ``concurrency`` threads in an embedded Celery worker. Waits until the
        consumer is attached (up to ``ready_timeout_seconds``); if RabbitMQ is down it goes on
        retrying in the background rather than failing the process."""
        if self._concurrency < 1:
            log.info("worker concurrency is 0: this process publishes training jobs only")
            return
        with self._lock:
            if self._worker is not None:
                raise RuntimeError("this CeleryQueue is already consuming")
            if not _WORKER_SLOT.acquire(blocking=False):
                raise RuntimeError("another CeleryQueue is already consuming in this process")
            ready = threading.Event()
            try:
                self._handler = handler
                worker_state.should_stop = None
                # Celery's thread pool looks tasks up in the process's default app.
                self._app.set_default()
                self._worker = self._app.WorkController(
                    hostname=f"seriesguard-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                    f"@{socket.gethostname()}",
                    pool="threads",
                    concurrency=self._concurrency,
                    queues=[self._queue_name],
                    ready_callback=lambda _consumer: ready.set(),
                    without_heartbeat=True,
                    without_mingle=True,
                    without_gossip=True,
                )
                self._thread = threading.Thread(
                    target=self._worker.start, name="seriesguard-celery-worker", daemon=True
                )
                self._thread.start()
            except BaseException:
                self._worker = self._thread = None
                _WORKER_SLOT.release()
                raise
        if not ready.wait(self._ready_timeout):
            log.warning(
                "not consuming %s after %.0fs; still trying to reach RabbitMQ",
                self._queue_name,
                self._ready_timeout,
            )

    def stop(self, *, timeout: float = 30.0) -> None:
        """Warm shutdown, as SIGTERM does for a Celery worker: stop taking messages, let the
        jobs in hand finish and ack them. After ``timeout`` the broker connection is dropped, so
        RabbitMQ requeues whatever is still unacked."""
        with self._lock:
            worker, thread = self._worker, self._thread
            self._worker = self._thread = None
        if worker is None or thread is None:
            return
        try:
            # The flag reaches a worker still connecting; the hub callback reaches this worker's
            # loop and wakes it from a poll that may last 10 s (repeated: a wake sent before
            # the loop's first poll is lost).
            worker_state.should_stop = _EX_OK
            hub = getattr(worker, "hub", None)
            deadline = time.monotonic() + timeout
            while thread.is_alive() and (left := deadline - time.monotonic()) > 0:
                if hub is not None:
                    hub.call_soon(_shut_down_from_loop, worker)
                thread.join(min(0.1, left))
            if thread.is_alive():
                log.warning(
                    "training jobs still running after %.0fs; dropping the broker connection "
                    "so RabbitMQ requeues their messages",
                    timeout,
                )
                _drop_connection(worker)
                if hub is not None and get_event_loop() is hub:
                    set_event_loop(None)  # a later start gets a fresh event loop
        finally:
            worker_state.should_stop = None
            self._handler = None
            _WORKER_SLOT.release()

    # -- internals ----------------------------------------------------------------------

    def _register_task(self) -> Any:
        # shared=False: a shared task would be added to every Celery app made later in the
        # process, bound to this queue's handler.
        queue = self

        def run_job(task: Any, job_id: str) -> None:
            queue._deliver(task, job_id)

        return self._app.task(
            name=TASK_NAME,
            bind=True,
            shared=False,
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
            max_retries=None,  # counted here, so the last failure is rejected, not acked
        )(run_job)

    def _deliver(self, task: Any, job_id: str) -> None:
        """Run the handler; on an exception retry with backoff, then dead-letter."""
        handler = self._handler
        if handler is None:  # stopped between delivery and execution: leave it to the broker
            raise Reject("consumer is stopping", requeue=True)
        try:
            handler(job_id, carried_trace_context((task.request.headers or {}).get(TRACE_HEADER)))
        except Exception as exc:
            attempt = int(task.request.retries or 0)
            if attempt >= self._max_retries:
                log.error(
                    "training job %s failed %d time(s); dead-lettering it to %s",
                    job_id,
                    attempt + 1,
                    self._dead_queue.name,
                    exc_info=True,
                )
                raise Reject(f"{type(exc).__name__}: {exc}", requeue=False) from exc
            delay = min(self._backoff_max, self._backoff * 2**attempt)
            retry = f"{attempt + 1}/{self._max_retries}"
            log.warning("training job %s failed (%r); retry %s in %.2fs", job_id, exc, retry, delay)
            raise task.retry(countdown=delay, exc=exc) from exc


def _topology(queue_name: str, max_priority: int) -> tuple[Queue, Queue]:
    """Work queue (durable, priorities, dead-letters to the DLX) and its dead-letter queue."""
    dead_name = f"{queue_name}.dead"
    dlx = Exchange(  # type: ignore[no-untyped-call]
        f"{queue_name}.dlx",
        type="direct",
        durable=True,
    )
    dead = Queue(  # type: ignore[no-untyped-call]
        dead_name,
        exchange=dlx,
        routing_key=dead_name,
        durable=True,
    )
    work = Queue(  # type: ignore[no-untyped-call]
        queue_name,
        exchange=Exchange(queue_name, type="direct", durable=True),  # type: ignore[no-untyped-call]
        routing_key=queue_name,
        durable=True,
        queue_arguments={
            # classic: a quorum queue (a vhost default in RabbitMQ 4) has only two priorities
            "x-queue-type": "classic",
            "x-max-priority": max_priority,
            "x-dead-letter-exchange": dlx.name,
            "x-dead-letter-routing-key": dead_name,
        },
    )
    return work, dead


def _build_app(*, broker_url: str, work_queue: Queue, connect_timeout: float) -> Any:
    app = Celery(f"seriesguard-{work_queue.name}", broker=broker_url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_accept_content=["json"],
        task_ignore_result=True,
        task_queues=(work_queue,),
        task_default_queue=work_queue.name,
        task_default_delivery_mode="persistent",
        task_acks_late=True,
        # a worker lost mid-job gives its message back instead of acking it
        task_reject_on_worker_lost=True,
        # an unexpected failure of the task wrapper itself dead-letters instead of dropping
        task_acks_on_failure_or_timeout=False,
        worker_prefetch_multiplier=1,
        task_publish_retry=True,
        task_publish_retry_policy=_RECONNECT_ONCE,
        broker_connection_timeout=connect_timeout,
        broker_connection_retry=True,
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a consumer waits for RabbitMQ as long as it takes
        broker_transport_options={
            "confirm_publish": True,
            # names the connections in RabbitMQ's management UI and ``rabbitmqctl``
            "client_properties": {
                "connection_name": f"seriesguard {work_queue.name} {socket.gethostname()}"
            },
        },
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app


def _drop_connection(worker: Any) -> None:
    connection = getattr(getattr(worker, "consumer", None), "connection", None)
    if connection is None:
        return
    try:
        connection.collect()
    except Exception:  # best effort: the process exiting has the same effect
        log.warning("could not drop the broker connection", exc_info=True)


def _shut_down_from_loop(worker: Any) -> None:
    """Run by the worker's own loop thread: a warm shutdown, as SIGTERM asks for, unless the
    worker is already shutting down (then it must not interrupt the acks still to flush)."""
    if worker.blueprint.state == RUN:
        raise WorkerShutdown(_EX_OK)
