"""The queue interface. The job table is the truth; a queue only carries job ids (and the
trace context of the request that submitted the job, so its trace goes on in the worker)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping

# W3C trace context headers (traceparent, tracestate) of the span that published a job.
Carrier = Mapping[str, str]
# Called with the job id and the trace context it was published with (empty when none).
JobHandler = Callable[[str, Carrier], None]


def carried_trace_context(raw: object) -> dict[str, str]:
    """A trace context read back from a transport; empty when absent or malformed, so a
    message from an older publisher (or a mangled header) still runs, untraced."""
    if not isinstance(raw, Mapping):
        return {}
    return {k: v for k, v in raw.items() if isinstance(k, str) and isinstance(v, str)}


class JobQueue(ABC):
    @abstractmethod
    def publish(self, *, job_id: str, priority: int, trace_context: Carrier | None = None) -> None:
        """Hand a committed job to the workers; higher priority is delivered first.
        ``trace_context`` (W3C headers) travels with the message to the handler."""

    @abstractmethod
    def start(self, handler: JobHandler) -> None:
        """Begin consuming: each delivered job id is passed to ``handler`` with its trace
        context."""

    @abstractmethod
    def stop(self, *, timeout: float = 30.0) -> None:
        """Stop taking jobs; wait up to ``timeout`` for the ones in hand to finish."""

    @abstractmethod
    def depth(self) -> int:
        """Jobs published and not yet taken by a worker."""
