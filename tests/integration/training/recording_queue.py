"""A queue that only records what is published, so a test decides when (and how often) each
message is delivered."""

from __future__ import annotations

from seriesguard.queue.base import Carrier, JobHandler, JobQueue


class RecordingQueue(JobQueue):
    def __init__(self) -> None:
        self.published: list[str] = []
        self.trace_contexts: list[dict[str, str]] = []

    def publish(self, *, job_id: str, priority: int, trace_context: Carrier | None = None) -> None:
        self.published.append(job_id)
        self.trace_contexts.append(dict(trace_context or {}))

    def start(self, handler: JobHandler) -> None:
        pass

    def stop(self, *, timeout: float = 30.0) -> None:
        pass

    def depth(self) -> int:
        return len(self.published)
