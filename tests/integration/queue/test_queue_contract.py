"""One contract for every JobQueue: the in-process queue and CeleryQueue on a real RabbitMQ.

Then the faults only a broker-backed queue promises to survive: a consumer SIGKILLed mid-job,
a handler that always fails (dead-lettered after its retries), RabbitMQ unreachable at publish
and RabbitMQ dropping the consumer's connection (what a broker restart does).

RabbitMQ must be running at SERIESGUARD_TEST_AMQP_URL (default 127.0.0.1:5672): CI starts it,
and these tests fail, not skip, without it. Each test uses its own queue and deletes it.
"""

from __future__ import annotations

import contextlib
import json
import queue as stdlib_queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kombu import Connection
from tests.rabbit import AMQP_URL, delete_topology

from seriesguard.core.errors import Unavailable
from seriesguard.queue.base import Carrier, JobHandler, JobQueue
from seriesguard.queue.celery_queue import BrokerUnavailable, CeleryQueue
from seriesguard.queue.inprocess import InProcessQueue

pytestmark = pytest.mark.integration

CONSUMER_PROC = Path(__file__).with_name("queue_consumer_proc.py")
WAIT = 15.0  # upper bound for anything a test waits on; normally well under a second

MakeQueue = Callable[..., JobQueue]
TRACE_CONTEXT = {
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "tracestate": "vendor=opaque",
}


@pytest.fixture(scope="module")
def rabbitmq() -> str:
    try:
        with Connection(AMQP_URL, connect_timeout=3) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as exc:
        pytest.fail(
            f"RabbitMQ is needed at {AMQP_URL} for the queue contract tests (CI starts it; "
            f"locally run `rabbitmq-server -detached`): {exc}"
        )
    return AMQP_URL


@pytest.fixture()
def queue_name(rabbitmq: str) -> Iterator[str]:
    """A fresh queue name; the queue, its dead-letter queue and their exchanges are deleted
    afterwards."""
    name = f"sg-test-{uuid.uuid4().hex[:12]}"
    yield name
    delete_topology(name)


@pytest.fixture(params=["inprocess", "celery"])
def make_queue(request: pytest.FixtureRequest) -> Iterator[MakeQueue]:
    """Builds the implementation under test; every queue made is stopped at the end."""
    made: list[JobQueue] = []
    celery = request.param == "celery"
    name = request.getfixturevalue("queue_name") if celery else ""

    def make(*, concurrency: int) -> JobQueue:
        built: JobQueue
        if celery:
            built = CeleryQueue(broker_url=AMQP_URL, concurrency=concurrency, queue_name=name)
        else:
            built = InProcessQueue(concurrency=concurrency)
        made.append(built)
        return built

    yield make
    for built in made:
        built.stop(timeout=5)


def _wait_until(predicate: Callable[[], bool], timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# -- the contract, for every implementation --------------------------------------------------


def test_every_published_job_is_delivered_exactly_once(make_queue: MakeQueue) -> None:
    queue = make_queue(concurrency=4)
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(job_id: str, _trace_context: Carrier) -> None:
        with lock:
            seen[job_id] += 1

    queue.start(handler)
    job_ids = [f"job-{index}" for index in range(40)]
    for index, job_id in enumerate(job_ids):
        queue.publish(job_id=job_id, priority=1 + index % 10)
    assert _wait_until(lambda: sum(seen.values()) >= len(job_ids))
    time.sleep(0.3)  # room for a duplicate to show up
    queue.stop(timeout=5)
    assert seen == Counter(job_ids)
    assert queue.depth() == 0


def test_a_backlog_is_served_highest_priority_first(make_queue: MakeQueue) -> None:
    queue = make_queue(concurrency=1)
    backlog = [("low-a", 1), ("mid-a", 5), ("high", 9), ("mid-b", 5), ("low-b", 1)]
    for job_id, priority in backlog:
        queue.publish(job_id=job_id, priority=priority)
    order: list[str] = []
    queue.start(recording(order))
    assert _wait_until(lambda: len(order) == len(backlog))
    assert order == ["high", "mid-a", "mid-b", "low-a", "low-b"]


def test_depth_counts_published_jobs_not_yet_taken(make_queue: MakeQueue) -> None:
    queue = make_queue(concurrency=1)
    assert queue.depth() == 0
    for job_id in ("a", "b", "c"):
        queue.publish(job_id=job_id, priority=5)
    assert queue.depth() == 3
    release, taken, done = threading.Event(), threading.Event(), []

    def handler(job_id: str, _trace_context: Carrier) -> None:
        taken.set()
        assert release.wait(WAIT)
        done.append(job_id)

    queue.start(handler)
    assert taken.wait(WAIT)
    assert queue.depth() == 2  # the job in hand is taken
    release.set()
    assert _wait_until(lambda: len(done) == 3)
    assert _wait_until(lambda: queue.depth() == 0)


def test_stop_waits_for_the_jobs_in_hand(make_queue: MakeQueue) -> None:
    queue = make_queue(concurrency=2)
    started, finished = threading.Event(), []

    def slow(job_id: str, _trace_context: Carrier) -> None:
        started.set()
        time.sleep(1.0)
        finished.append(job_id)

    queue.start(slow)
    queue.publish(job_id="slow", priority=5)
    assert started.wait(WAIT)
    queue.stop(timeout=WAIT)
    assert finished == ["slow"]
    assert queue.depth() == 0  # finished work was acknowledged, not handed back


def test_the_trace_context_travels_with_its_job(make_queue: MakeQueue) -> None:
    queue = make_queue(concurrency=1)
    delivered: dict[str, dict[str, str]] = {}

    def handler(job_id: str, trace_context: Carrier) -> None:
        delivered[job_id] = dict(trace_context)

    queue.start(handler)
    queue.publish(job_id="traced", priority=5, trace_context=TRACE_CONTEXT)
    queue.publish(job_id="untraced", priority=5)
    assert _wait_until(lambda: len(delivered) == 2)
    assert delivered == {"traced": TRACE_CONTEXT, "untraced": {}}


# -- Celery/RabbitMQ only --------------------------------------------------------------------


def test_stop_after_its_timeout_hands_unfinished_jobs_back(rabbitmq: str, queue_name: str) -> None:
    queue = CeleryQueue(broker_url=rabbitmq, queue_name=queue_name, concurrency=1)
    started, release = threading.Event(), threading.Event()

    def stuck(job_id: str, _trace_context: Carrier) -> None:
        started.set()
        release.wait(WAIT)

    queue.start(stuck)
    try:
        queue.publish(job_id="stuck", priority=5)
        assert started.wait(WAIT)
        queue.stop(timeout=0.3)
        assert _wait_until(lambda: queue.depth() == 1)  # back in the queue for another worker
    finally:
        release.set()


def test_a_consumer_killed_mid_job_has_its_job_redelivered(rabbitmq: str, queue_name: str) -> None:
    doomed = subprocess.Popen(
        [sys.executable, str(CONSUMER_PROC), rabbitmq, queue_name],
        stdout=subprocess.PIPE,
        text=True,
    )
    survivor = CeleryQueue(broker_url=rabbitmq, queue_name=queue_name, concurrency=1)
    try:
        lines = _lines_of(doomed)
        assert _next_line(lines) == "ready"
        survivor.publish(job_id="victim", priority=5)
        assert _next_line(lines) == "started victim"
        received: list[str] = []
        survivor.start(recording(received))
        time.sleep(0.3)
        assert received == []  # the doomed consumer still holds it, unacknowledged
        doomed.send_signal(signal.SIGKILL)
        assert _wait_until(lambda: received == ["victim"])
    finally:
        survivor.stop(timeout=5)
        doomed.kill()
        doomed.wait(5)


def test_a_handler_that_keeps_failing_ends_in_the_dead_letter_queue(
    rabbitmq: str, queue_name: str
) -> None:
    queue = CeleryQueue(
        broker_url=rabbitmq,
        queue_name=queue_name,
        concurrency=1,
        max_retries=1,
        retry_backoff_seconds=0.05,
    )
    calls: list[str] = []

    def poison(job_id: str, _trace_context: Carrier) -> None:
        calls.append(job_id)
        raise RuntimeError("handler bug")

    queue.start(poison)
    try:
        queue.publish(job_id="poison", priority=7)
        assert _wait_until(lambda: _ready_count(f"{queue_name}.dead") == 1)
    finally:
        queue.stop(timeout=5)
    assert calls == ["poison", "poison"]  # the first try and one retry
    assert queue.depth() == 0
    with Connection(rabbitmq) as conn:
        message = conn.default_channel.basic_get(queue=f"{queue_name}.dead", no_ack=True)
    assert message is not None
    args, _kwargs, _embed = json.loads(message.body)
    assert args == ["poison"]  # the job id is all a message carries
    death = message.headers["x-death"][0]
    assert death["reason"] == "rejected" and death["queue"] == queue_name


def test_a_retried_job_keeps_its_trace_context(rabbitmq: str, queue_name: str) -> None:
    queue = CeleryQueue(
        broker_url=rabbitmq, queue_name=queue_name, concurrency=1, retry_backoff_seconds=0.05
    )
    seen: list[dict[str, str]] = []

    def fails_once(job_id: str, trace_context: Carrier) -> None:
        seen.append(dict(trace_context))
        if len(seen) == 1:
            raise RuntimeError("transient")

    queue.start(fails_once)
    try:
        queue.publish(job_id="flaky", priority=5, trace_context=TRACE_CONTEXT)
        assert _wait_until(lambda: len(seen) == 2)
    finally:
        queue.stop(timeout=5)
    assert seen == [TRACE_CONTEXT, TRACE_CONTEXT]


def test_publish_with_rabbitmq_unreachable_raises_broker_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    queue = CeleryQueue(
        broker_url=f"amqp://guest:guest@127.0.0.1:{port}//",
        queue_name="sg-test-unreachable",
        concurrency=1,
        publish_timeout_seconds=1.0,
    )
    started = time.monotonic()
    with pytest.raises(BrokerUnavailable) as raised:
        queue.publish(job_id="lost", priority=5)
    assert time.monotonic() - started < WAIT  # bounded: it does not hang on a dead broker
    assert isinstance(raised.value, Unavailable)  # so the API answers 503
    assert "lost" in raised.value.message
    with pytest.raises(BrokerUnavailable):
        queue.depth()


def test_a_consumer_reconnects_when_rabbitmq_drops_its_connection(
    rabbitmq: str, queue_name: str
) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is needed to make RabbitMQ close the consumer's connection")
    queue = CeleryQueue(broker_url=rabbitmq, queue_name=queue_name, concurrency=1)
    received: list[str] = []
    queue.start(recording(received))
    try:
        closed = _close_connections_named(f"seriesguard {queue_name} ")
        assert closed, "found no connection of this queue to close"
        queue.publish(job_id="after-drop", priority=5)  # its pooled connection was dropped too
        assert _wait_until(lambda: received == ["after-drop"])
        assert queue.depth() == 0
    finally:
        queue.stop(timeout=5)


# -- helpers -----------------------------------------------------------------------------


def recording(into: list[str]) -> JobHandler:
    """A handler that appends each delivered job id to ``into``."""

    def record(job_id: str, _trace_context: Carrier) -> None:
        into.append(job_id)

    return record


def _lines_of(process: subprocess.Popen[str]) -> stdlib_queue.Queue[str]:
    lines: stdlib_queue.Queue[str] = stdlib_queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.strip())

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _next_line(lines: stdlib_queue.Queue[str]) -> str:
    try:
        return lines.get(timeout=WAIT)
    except stdlib_queue.Empty:
        pytest.fail("the consumer process printed nothing in time")


def _ready_count(name: str) -> int:
    with Connection(AMQP_URL) as conn:
        channel = conn.channel()
        try:
            return int(channel.queue_declare(queue=name, passive=True).message_count)
        except Exception:  # not declared yet
            return 0
        finally:
            with contextlib.suppress(Exception):
                channel.close()


def _close_connections_named(prefix: str) -> int:
    """Have RabbitMQ force-close the connections whose client name starts with ``prefix``,
    as it does to every client when it restarts."""
    listing = subprocess.run(
        ["rabbitmqctl", "list_connections", "-q", "pid", "client_properties"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    pids = [
        line.split("\t", 1)[0]
        for line in listing.splitlines()
        if f'{{"connection_name","{prefix}' in line
    ]
    for pid in pids:
        subprocess.run(
            ["rabbitmqctl", "close_connection", pid, "seriesguard test: simulated restart"],
            capture_output=True,
            check=True,
            timeout=30,
        )
    return len(pids)
