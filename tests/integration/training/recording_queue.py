"""A queue that only records what is published, so a test decides when (and how often) each
message is delivered."""

from __future__ import annotations

from seriesguard.queue.base import JobHandler, JobQueue


class RecordingQueue(JobQueue):
    def __init__(self) -> None:
        self.published: list[str] = []

    def publish(self, *, job_id: str, priority: int) -> None:
        self.published.append(job_id)

    def start(self, handler: JobHandler) -> None:
        pass

    def stop(self, *, timeout: float = 30.0) -> None:
        pass

    def depth(self) -> int:
        return len(self.published)
