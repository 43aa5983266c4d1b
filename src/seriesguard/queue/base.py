"""The queue interface. The job table is the truth; a queue only carries job ids."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

JobHandler = Callable[[str], None]


class JobQueue(ABC):
    @abstractmethod
    def publish(self, *, job_id: str, priority: int) -> None:
        """Hand a committed job to the workers; higher priority is delivered first."""

    @abstractmethod
    def start(self, handler: JobHandler) -> None:
        """Begin consuming: each delivered job id is passed to ``handler``."""

    @abstractmethod
    def stop(self, *, timeout: float = 30.0) -> None:
        """Stop taking jobs; wait up to ``timeout`` for the ones in hand to finish."""

    @abstractmethod
    def depth(self) -> int:
        """Jobs published and not yet taken by a worker."""
