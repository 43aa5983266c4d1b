"""An OTLP/HTTP trace collector in the test process: what an OpenTelemetry Collector receives
at ``POST /v1/traces`` (protobuf ``ExportTraceServiceRequest``, plain or gzip), kept as simple
records a test can assert on.

    with OtlpCollector() as collector:
        tracing = create_tracing(endpoint=collector.endpoint, service_name="seriesguard-test")
        ...
        tracing.shutdown()                      # flushes the batch processor
        spans = collector.wait_for_names("predict", "inference")
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

TRACES_PATH = "/v1/traces"
AttrValue = str | int | float | bool | bytes | list[Any] | dict[str, Any] | None


@dataclass(frozen=True)
class CollectedSpan:
    name: str
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str | None  # None for a root span
    kind: str  # "internal", "server", "client", "producer", "consumer"
    attributes: Mapping[str, AttrValue]
    service_name: str | None
    status: str  # "unset", "ok", "error"
    status_message: str
    events: tuple[str, ...]  # event names ("exception" for a recorded error)


class OtlpCollector:
    """Listens on 127.0.0.1 (a free port) while the ``with`` block runs; ``endpoint`` is the
    base URL to configure, as ``OTEL_EXPORTER_OTLP_ENDPOINT`` would be."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._spans: list[CollectedSpan] = []
        self.encodings: list[str] = []  # Content-Encoding of each export ("" when plain)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> OtlpCollector:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @property
    def spans(self) -> list[CollectedSpan]:
        with self._lock:
            return list(self._spans)

    def wait_for(
        self, predicate: Callable[[list[CollectedSpan]], bool], timeout: float = 10.0
    ) -> list[CollectedSpan]:
        """The spans received so far, once ``predicate`` holds for them; AssertionError when
        it still does not after ``timeout`` seconds."""
        with self._lock:
            if not self._lock.wait_for(lambda: predicate(self._spans), timeout):
                names = [span.name for span in self._spans]
                raise AssertionError(f"collector: condition not met; received spans {names}")
            return list(self._spans)

    def wait_for_names(self, *names: str, timeout: float = 10.0) -> dict[str, CollectedSpan]:
        """The spans with these names, once each has arrived (the last one of each name)."""
        wanted = set(names)
        spans = self.wait_for(lambda got: wanted <= {span.name for span in got}, timeout)
        return {span.name: span for span in spans if span.name in wanted}

    def _receive(self, body: bytes, encoding: str) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(gzip.decompress(body) if encoding == "gzip" else body)
        received = list(_records(request))
        with self._lock:
            self.encodings.append(encoding)
            self._spans.extend(received)
            self._lock.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path != TRACES_PATH:
                    self.send_error(404, f"only {TRACES_PATH} is collected here")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                try:
                    collector._receive(body, self.headers.get("Content-Encoding", ""))
                except Exception as exc:  # a malformed export is the exporter's bug: say so
                    self.send_error(400, f"not an ExportTraceServiceRequest: {exc}")
                    return
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep the test output to the tests

        return Handler


def _records(request: ExportTraceServiceRequest) -> Iterable[CollectedSpan]:
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        service = resource.get("service.name")
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield CollectedSpan(
                    name=span.name,
                    trace_id=span.trace_id.hex(),
                    span_id=span.span_id.hex(),
                    parent_span_id=span.parent_span_id.hex() or None,
                    kind=Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_").lower(),
                    attributes=_attributes(span.attributes),
                    service_name=service if isinstance(service, str) else None,
                    status=Status.StatusCode.Name(span.status.code)
                    .removeprefix("STATUS_CODE_")
                    .lower(),
                    status_message=span.status.message,
                    events=tuple(event.name for event in span.events),
                )


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, AttrValue]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> AttrValue:
    field = value.WhichOneof("value")
    if field is None:
        return None
    if field == "array_value":
        return [_value(item) for item in value.array_value.values]
    if field == "kvlist_value":
        return _attributes(value.kvlist_value.values)
    raw: AttrValue = getattr(value, field)
    return raw
