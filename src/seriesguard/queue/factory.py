"""Queue chosen by broker URL."""

from __future__ import annotations

from seriesguard.core.redact import redact_url
from seriesguard.queue.base import JobQueue
from seriesguard.queue.inprocess import InProcessQueue

AMQP_SCHEMES = ("amqp://", "amqps://", "pyamqp://")


def create_queue(
    *, broker_url: str, concurrency: int, queue_name: str = "seriesguard.training"
) -> JobQueue:
    if broker_url.startswith("memory://"):
        return InProcessQueue(concurrency=concurrency)
    if broker_url.startswith(AMQP_SCHEMES):
        # Imported here so the embedded default never loads Celery.
        from seriesguard.queue.celery_queue import CeleryQueue

        return CeleryQueue(broker_url=broker_url, concurrency=concurrency, queue_name=queue_name)
    raise ValueError(
        f"broker URL {redact_url(broker_url)!r} is not supported; "
        "use memory:// or amqp:// (RabbitMQ)"
    )
