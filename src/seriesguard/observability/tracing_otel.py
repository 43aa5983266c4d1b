"""The OpenTelemetry side of :mod:`seriesguard.observability.tracing` (imported only when
tracing is enabled): an SDK tracer provider of our own, batched OTLP/HTTP export, W3C trace
context propagation.

The provider is private, never the global one: MLflow 3 sets up OpenTelemetry too, and a test
process holds several providers at once. The current span still lives in OpenTelemetry's one
context variable, so spans of any provider nest, and log lines find their ids there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from seriesguard.observability.tracing import (
    Attributes,
    AttrValue,
    SpanHandle,
    SpanKind,
    TraceIds,
    Tracing,
)

TRACES_PATH: Final = "/v1/traces"
_KINDS: Final = {
    SpanKind.INTERNAL: trace.SpanKind.INTERNAL,
    SpanKind.SERVER: trace.SpanKind.SERVER,
    SpanKind.CLIENT: trace.SpanKind.CLIENT,
    SpanKind.PRODUCER: trace.SpanKind.PRODUCER,
    SpanKind.CONSUMER: trace.SpanKind.CONSUMER,
}
_PROPAGATOR: Final = TraceContextTextMapPropagator()


def traces_url(endpoint: str) -> str:
    """The OTLP rule for a base endpoint (``OTEL_EXPORTER_OTLP_ENDPOINT``): the signal's path
    is appended to it, after any path it has."""
    return endpoint.rstrip("/") + TRACES_PATH


def current_span_ids() -> TraceIds | None:
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return trace.format_trace_id(context.trace_id), trace.format_span_id(context.span_id)


class _Handle:
    __slots__ = ("_span",)

    def __init__(self, span: trace.Span) -> None:
        self._span = span

    def set_attribute(self, key: str, value: AttrValue) -> None:
        self._span.set_attribute(key, value)

    def record_error(self, exc: BaseException) -> None:
        self._span.record_exception(exc)
        self._span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))

    def mark_error(self, description: str) -> None:
        self._span.set_status(Status(StatusCode.ERROR, description))

    def rename(self, name: str) -> None:
        self._span.update_name(name)


class OtelTracing(Tracing):
    enabled = True

    def __init__(self, *, endpoint: str, service_name: str) -> None:
        # Resource.create adds OTEL_RESOURCE_ATTRIBUTES (pod, namespace, ...); the sampler
        # follows OTEL_TRACES_SAMPLER, and the exporter its OTEL_EXPORTER_OTLP_* headers,
        # timeout and compression.
        self._provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
        self._provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_url(endpoint)))
        )
        self._tracer = self._provider.get_tracer("seriesguard")

    def span(
        self, name: str, attributes: Attributes | None = None, *, kind: SpanKind = SpanKind.INTERNAL
    ) -> AbstractContextManager[SpanHandle]:
        return self._open(name, attributes, kind, parent=None)

    def continued(
        self,
        name: str,
        carrier: Mapping[str, str],
        attributes: Attributes | None = None,
        *,
        kind: SpanKind = SpanKind.CONSUMER,
    ) -> AbstractContextManager[SpanHandle]:
        # An empty Context when the carrier holds no valid traceparent: a new trace, not a
        # child of whatever span happens to be current.
        return self._open(name, attributes, kind, parent=_PROPAGATOR.extract(dict(carrier)))

    @contextmanager
    def _open(
        self, name: str, attributes: Attributes | None, kind: SpanKind, *, parent: Context | None
    ) -> Iterator[SpanHandle]:
        with self._tracer.start_as_current_span(
            name, context=parent, kind=_KINDS[kind], attributes=attributes
        ) as span:
            yield _Handle(span)

    def carrier(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        _PROPAGATOR.inject(headers)
        return headers

    def current_ids(self) -> TraceIds | None:
        return current_span_ids()

    def shutdown(self) -> None:
        self._provider.shutdown()
