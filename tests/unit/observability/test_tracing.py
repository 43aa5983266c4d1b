"""Tracing facade: free when disabled; when enabled, spans reach an OTLP collector with their
parent links, the W3C carrier continues a trace elsewhere, and log lines carry the ids."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Callable, Iterator

import pytest
from tests.otlp_collector import OtlpCollector

from seriesguard.observability.logging import configure_logging
from seriesguard.observability.tracing import NO_TRACING, SpanKind, Tracing, create_tracing

log = logging.getLogger("seriesguard.test.tracing")
CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture()
def collector() -> Iterator[OtlpCollector]:
    with OtlpCollector() as running:
        yield running


@pytest.fixture()
def tracing_to(collector: OtlpCollector) -> Iterator[Callable[..., Tracing]]:
    """Makes tracings that export to the collector; each is shut down (flushed) at the end,
    also when a test fails before it does so itself."""
    made: list[Tracing] = []

    def make(service_name: str = "seriesguard-test", *, endpoint: str | None = None) -> Tracing:
        made.append(
            create_tracing(endpoint=endpoint or collector.endpoint, service_name=service_name)
        )
        return made[-1]

    yield make
    for tracing in made:
        tracing.shutdown()


def test_disabled_tracing_hands_out_one_shared_do_nothing_span() -> None:
    assert create_tracing(endpoint=None, service_name="seriesguard-api") is NO_TRACING
    assert create_tracing(endpoint="", service_name="seriesguard-api") is NO_TRACING
    assert NO_TRACING.enabled is False
    spans = [
        NO_TRACING.span("predict"),
        NO_TRACING.span("load_model", {"series.id": "s1"}, kind=SpanKind.CLIENT),
        NO_TRACING.continued("training.job", {"traceparent": CALLER}, {"job.id": "j"}),
    ]
    assert all(span is spans[0] for span in spans)  # nothing made per call
    with spans[0] as handle:
        handle.set_attribute("anomaly", True)
        handle.record_error(RuntimeError("ignored"))
        assert id(handle) == id(spans[0])  # entering makes nothing either
        assert NO_TRACING.carrier() == {}
        assert NO_TRACING.current_ids() is None


def test_a_process_without_tracing_never_loads_opentelemetry() -> None:
    script = """
import logging, sys
from seriesguard.observability.logging import configure_logging
from seriesguard.observability.tracing import create_tracing
tracing = create_tracing(endpoint=None, service_name="seriesguard-predictor")
configure_logging(level="INFO", fmt="json", process_role="predictor")
with tracing.span("predict"):
    logging.getLogger("x").warning("inside")
print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
"""
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.strip() == "[]"
    assert "trace_id" not in run.stderr


def test_spans_reach_the_collector_with_their_parent_links(
    collector: OtlpCollector, tracing_to: Callable[..., Tracing]
) -> None:
    tracing = tracing_to()
    assert tracing.enabled
    with tracing.span("outer", {"series.id": "s1", "points": 3}, kind=SpanKind.SERVER) as outer:
        outer.set_attribute("anomaly", False)
        with tracing.span("inner") as inner:
            inner.record_error(ValueError("bad point"))
        with pytest.raises(KeyError), tracing.span("raises"):
            raise KeyError("missing")
    tracing.shutdown()
    spans = collector.wait_for_names("outer", "inner", "raises")
    outer_span, inner_span, raising = spans["outer"], spans["inner"], spans["raises"]
    assert outer_span.parent_span_id is None
    assert inner_span.parent_span_id == outer_span.span_id == raising.parent_span_id
    assert len({s.trace_id for s in spans.values()}) == 1
    assert outer_span.kind == "server" and inner_span.kind == "internal"
    assert outer_span.attributes == {"series.id": "s1", "points": 3, "anomaly": False}
    assert outer_span.service_name == "seriesguard-test"
    assert outer_span.status == "unset"
    assert inner_span.status == "error" and "bad point" in inner_span.status_message
    assert raising.status == "error" and "exception" in raising.events


def test_the_carrier_continues_a_trace_in_another_service(
    collector: OtlpCollector, tracing_to: Callable[..., Tracing]
) -> None:
    api, worker = tracing_to("seriesguard-api"), tracing_to("seriesguard-worker")
    assert api.carrier() == {}  # no span open
    with api.span("queue.publish", kind=SpanKind.PRODUCER):
        carrier = api.carrier()
        ids = api.current_ids()
        with worker.continued("unrelated", {}):  # nothing carried: a trace of its own
            pass
    assert ids is not None
    assert carrier["traceparent"].split("-")[1:3] == list(ids)
    with worker.continued("training.job", carrier, {"job.id": "j1"}):
        assert worker.current_ids() is not None
    api.shutdown()
    worker.shutdown()
    spans = collector.wait_for_names("queue.publish", "training.job", "unrelated")
    job, publish = spans["training.job"], spans["queue.publish"]
    assert (job.trace_id, job.parent_span_id) == (publish.trace_id, publish.span_id) == ids
    assert job.kind == "consumer" and job.service_name == "seriesguard-worker"
    assert publish.kind == "producer" and publish.service_name == "seriesguard-api"
    assert spans["unrelated"].parent_span_id is None
    assert spans["unrelated"].trace_id != publish.trace_id


def test_a_base_endpoint_gets_the_traces_path_and_gzip_is_honoured(
    collector: OtlpCollector, tracing_to: Callable[..., Tracing], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")
    tracing = tracing_to(endpoint=collector.endpoint + "/")
    with tracing.span("compressed"):
        pass
    tracing.shutdown()
    collector.wait_for_names("compressed")
    assert collector.encodings == ["gzip"]


def test_log_lines_inside_a_span_carry_its_ids(
    collector: OtlpCollector, tracing_to: Callable[..., Tracing], capsys: pytest.CaptureFixture[str]
) -> None:
    tracing = tracing_to()
    configure_logging(level="INFO", fmt="json", process_role="worker")
    try:
        log.warning("before")
        with tracing.continued("training.job", {"traceparent": CALLER}):
            log.warning("inside")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    finally:
        logging.getLogger().handlers.clear()
    tracing.shutdown()
    job = collector.wait_for_names("training.job")["training.job"]
    before, inside = lines
    assert "trace_id" not in before and "span_id" not in before
    assert (inside["trace_id"], inside["span_id"]) == (job.trace_id, job.span_id)
    assert inside["trace_id"] == CALLER.split("-")[1]  # the caller's trace, continued
