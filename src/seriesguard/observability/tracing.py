"""Tracing facade: spans, W3C trace context across processes, trace ids for log lines.

Tracing is on only where an OTLP endpoint is configured (``OTEL_EXPORTER_OTLP_ENDPOINT``).
Off, nothing of OpenTelemetry is imported or built: :data:`NO_TRACING` hands out one shared
do-nothing span, so code that traces costs a method call and nothing else. The hot path
still checks :attr:`Tracing.enabled` before building attributes.

OpenTelemetry types stay in :mod:`seriesguard.observability.tracing_otel`; callers see this
module's :class:`Tracing`, :class:`SpanHandle` and :class:`SpanKind` only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from enum import StrEnum
from types import TracebackType
from typing import Protocol

AttrValue = str | int | float | bool
Attributes = Mapping[str, AttrValue]
TraceIds = tuple[str, str]


class SpanKind(StrEnum):
    """OpenTelemetry's span kinds: what the span is to its parent and children."""

    INTERNAL = "internal"
    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"


class SpanHandle(Protocol):
    def set_attribute(self, key: str, value: AttrValue) -> None: ...

    def record_error(self, exc: BaseException) -> None:
        """Record ``exc`` on the span and mark the span failed."""

    def mark_error(self, description: str) -> None:
        """Mark the span failed without an exception (an HTTP 5xx answered normally)."""

    def rename(self, name: str) -> None:
        """Name known only after the span started (the route matched by the router)."""


class Tracing(ABC):
    """Spans of one process, exported to one OTLP collector (or nowhere)."""

    enabled: bool

    @abstractmethod
    def span(
        self, name: str, attributes: Attributes | None = None, *, kind: SpanKind = SpanKind.INTERNAL
    ) -> AbstractContextManager[SpanHandle]:
        """A child of the current span (a root when there is none), current while open."""

    @abstractmethod
    def continued(
        self,
        name: str,
        carrier: Mapping[str, str],
        attributes: Attributes | None = None,
        *,
        kind: SpanKind = SpanKind.CONSUMER,
    ) -> AbstractContextManager[SpanHandle]:
        """A span whose parent is the one ``carrier`` came from (another process, a message);
        a new trace when the carrier holds none."""

    @abstractmethod
    def carrier(self) -> dict[str, str]:
        """The current span as W3C trace context headers (``traceparent``, ``tracestate``),
        to send along with a request or a message; empty outside a span."""

    @abstractmethod
    def current_ids(self) -> TraceIds | None:
        """``(trace_id, span_id)`` of the current span in hex (32 and 16 digits); None outside
        a span."""

    @abstractmethod
    def shutdown(self) -> None:
        """Export the spans still buffered and stop the exporter."""


class _NullSpan:
    """The one span of disabled tracing: its own context manager, so entering allocates
    nothing."""

    __slots__ = ()

    def __enter__(self) -> _NullSpan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def set_attribute(self, key: str, value: AttrValue) -> None:
        pass

    def record_error(self, exc: BaseException) -> None:
        pass

    def mark_error(self, description: str) -> None:
        pass

    def rename(self, name: str) -> None:
        pass


_NULL_SPAN = _NullSpan()


class _DisabledTracing(Tracing):
    enabled = False

    def span(
        self, name: str, attributes: Attributes | None = None, *, kind: SpanKind = SpanKind.INTERNAL
    ) -> AbstractContextManager[SpanHandle]:
        return _NULL_SPAN

    def continued(
        self,
        name: str,
        carrier: Mapping[str, str],
        attributes: Attributes | None = None,
        *,
        kind: SpanKind = SpanKind.CONSUMER,
    ) -> AbstractContextManager[SpanHandle]:
        return _NULL_SPAN

    def carrier(self) -> dict[str, str]:
        return {}

    def current_ids(self) -> TraceIds | None:
        return None

    def shutdown(self) -> None:
        pass


NO_TRACING: Tracing = _DisabledTracing()


def _no_ids() -> TraceIds | None:
    return None


# Read by every log record (see current_trace_ids). The span context lives in a context
# variable shared by all tracer providers, so any enabled Tracing can read it; until one
# exists the process has no spans and the answer is None without importing OpenTelemetry.
_ids_reader: Callable[[], TraceIds | None] = _no_ids


def current_trace_ids() -> TraceIds | None:
    """``(trace_id, span_id)`` of the span current in this thread or task, for log lines;
    None when no tracing is enabled in this process or no span is open."""
    return _ids_reader()


def create_tracing(*, endpoint: str | None, service_name: str) -> Tracing:
    """Tracing that exports to the OTLP/HTTP collector at ``endpoint`` (a base URL, e.g.
    ``http://otel-collector:4318``; ``/v1/traces`` is appended as the OTLP rules say), with
    ``service.name`` = ``service_name``. No endpoint: :data:`NO_TRACING`."""
    if not endpoint:
        return NO_TRACING
    global _ids_reader
    # Imported here so a process without tracing never loads the OpenTelemetry SDK.
    from seriesguard.observability.tracing_otel import OtelTracing, current_span_ids

    tracing = OtelTracing(endpoint=endpoint, service_name=service_name)
    _ids_reader = current_span_ids
    return tracing
