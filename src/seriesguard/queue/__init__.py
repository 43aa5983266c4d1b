"""Job transport behind one interface: in-process now, Celery/RabbitMQ by URL later."""

from seriesguard.queue.base import JobHandler, JobQueue

__all__ = ["JobHandler", "JobQueue"]
