"""Queue chosen by broker URL."""

from __future__ import annotations

from seriesguard.queue.base import JobQueue
from seriesguard.queue.inprocess import InProcessQueue


def create_queue(*, broker_url: str, concurrency: int) -> JobQueue:
    if broker_url.startswith("memory://"):
        return InProcessQueue(concurrency=concurrency)
    raise ValueError(f"broker URL {broker_url!r} is not supported by this release; use memory://")
