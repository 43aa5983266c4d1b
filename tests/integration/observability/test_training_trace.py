"""A training job is one trace from the HTTP request to the worker: the API's server span, the
publish, and in the worker ``training.job`` with ``load_data``, ``fit`` and ``register``,
carried across the in-process queue and across RabbitMQ (the carrier in a message header).

The API and the worker are two TrainingService instances on one database, each with its own
tracing (service name), as two processes would be.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.testclient import TestClient
from tests.otlp_collector import CollectedSpan, OtlpCollector
from tests.rabbit import AMQP_URL, delete_topology

from seriesguard.core.detectors import DEFAULT_ALGORITHM
from seriesguard.core.jobs import JobStatus
from seriesguard.core.validation import PointLimits
from seriesguard.observability.tracing import Tracing, create_tracing
from seriesguard.observability.tracing_asgi import TracingMiddleware
from seriesguard.queue.base import JobQueue
from seriesguard.queue.celery_queue import CeleryQueue
from seriesguard.queue.inprocess import InProcessQueue
from seriesguard.registry.memory import MemoryRegistry
from seriesguard.store.catalog import CatalogRepository
from seriesguard.store.db import create_db_engine, session_factory, upgrade
from seriesguard.store.jobs import JobRepository
from seriesguard.training.data import LocalDataStore
from seriesguard.training.service import TrainingConfig, TrainingService

pytestmark = pytest.mark.integration

CALLER_TRACE, CALLER_SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
ROUTE = "/api/v1/train/{series_id}"
SERVER_SPAN = f"POST {ROUTE}"
WORKER_SPANS = ("training.job", "load_data", "fit", "register")


@dataclass
class Deployment:
    """What the test drives: the API over HTTP, the worker service, both tracings."""

    client: TestClient
    worker: TrainingService
    tracings: tuple[Tracing, Tracing]


@pytest.fixture()
def collector() -> Iterator[OtlpCollector]:
    with OtlpCollector() as running:
        yield running


@pytest.fixture(params=["inprocess", "celery"])
def queue(request: pytest.FixtureRequest) -> Iterator[JobQueue]:
    if request.param == "inprocess":
        yield InProcessQueue(concurrency=1)
        return
    name = f"sg-trace-{uuid.uuid4().hex[:12]}"
    try:
        yield CeleryQueue(broker_url=AMQP_URL, concurrency=1, queue_name=name)
    finally:
        delete_topology(name)


@pytest.fixture()
def deployment(tmp_path: Path, queue: JobQueue, collector: OtlpCollector) -> Iterator[Deployment]:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    upgrade(engine)
    sessions = session_factory(engine)
    registry, data = MemoryRegistry(), LocalDataStore(tmp_path / "data")
    api_tracing = create_tracing(endpoint=collector.endpoint, service_name="seriesguard-api")
    worker_tracing = create_tracing(endpoint=collector.endpoint, service_name="seriesguard-worker")

    def service(tracing: Tracing) -> TrainingService:
        return TrainingService(
            jobs=JobRepository(sessions),
            catalog=CatalogRepository(sessions),
            registry=registry,
            queue=queue,
            data=data,
            limits=PointLimits(100, 1000),
            min_interval_seconds=0,
            tracing=tracing,
        )

    worker = service(worker_tracing)
    queue.start(worker.run)
    try:
        app = TracingMiddleware(training_api(service(api_tracing)), api_tracing)
        yield Deployment(TestClient(app), worker, (api_tracing, worker_tracing))
    finally:
        queue.stop(timeout=10)
        for tracing in (api_tracing, worker_tracing):
            tracing.shutdown()
        engine.dispose()


def training_api(training: TrainingService) -> FastAPI:
    """The submit route as the real API has it: the service called in the thread pool."""
    app = FastAPI()

    @app.post(ROUTE, status_code=202)
    async def submit(series_id: str) -> dict[str, str]:
        rng = np.random.default_rng(3)
        timestamps = [1e9 + 60.0 * i for i in range(200)]
        values = rng.normal(5, 1, 200).tolist()
        job = await run_in_threadpool(
            lambda: training.submit(
                series_id=series_id, timestamps=timestamps, values=values, config=TrainingConfig()
            )
        )
        return {"job_id": job.id}

    return app


def test_a_training_job_is_one_trace_from_request_to_registration(
    deployment: Deployment, collector: OtlpCollector
) -> None:
    answer = deployment.client.post(
        "/api/v1/train/pump-7.x", headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
    )
    assert answer.status_code == 202
    job_id = answer.json()["job_id"]
    wait_until_completed(deployment.worker, job_id)
    for tracing in deployment.tracings:
        tracing.shutdown()
    spans = collector.wait_for_names(SERVER_SPAN, "queue.publish", *WORKER_SPANS)

    server, publish, job = spans[SERVER_SPAN], spans["queue.publish"], spans["training.job"]
    assert {span.trace_id for span in spans.values()} == {CALLER_TRACE}
    assert server.parent_span_id == CALLER_SPAN
    assert publish.parent_span_id == server.span_id
    assert job.parent_span_id == publish.span_id  # the carrier crossed the queue
    for step in ("load_data", "fit", "register"):
        assert spans[step].parent_span_id == job.span_id, step
    assert [server.kind, publish.kind, job.kind] == ["server", "producer", "consumer"]
    assert services(spans, SERVER_SPAN, "queue.publish") == {"seriesguard-api"}
    assert services(spans, *WORKER_SPANS) == {"seriesguard-worker"}
    assert job.attributes == {
        "job.id": job_id,
        "series.id": "pump-7.x",
        "job.algorithm": DEFAULT_ALGORITHM,
        "job.attempt": 1,
    }
    assert all(span.status != "error" for span in spans.values())


def wait_until_completed(worker: TrainingService, job_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while worker.get(job_id).status is not JobStatus.COMPLETED:
        assert time.monotonic() < deadline, f"job {job_id} is {worker.get(job_id).status}"
        time.sleep(0.05)


def services(spans: dict[str, CollectedSpan], *names: str) -> set[str | None]:
    return {spans[name].service_name for name in names}
