"""The in-process queue: priority order, FIFO within a priority, workers off the caller."""

from __future__ import annotations

import threading

from seriesguard.queue.base import Carrier
from seriesguard.queue.inprocess import InProcessQueue


def test_higher_priority_first_then_publication_order() -> None:
    queue = InProcessQueue(concurrency=1)
    for job_id, priority in [("low", 1), ("mid-a", 5), ("high", 9), ("mid-b", 5)]:
        queue.publish(job_id=job_id, priority=priority)
    assert queue.depth() == 4
    seen: list[str] = []
    done = threading.Event()

    def handler(job_id: str, _trace_context: Carrier) -> None:
        seen.append(job_id)
        if len(seen) == 4:
            done.set()

    queue.start(handler)
    assert done.wait(5)
    queue.stop(timeout=5)
    assert seen == ["high", "mid-a", "mid-b", "low"]
    assert queue.depth() == 0


def test_workers_run_concurrently_and_survive_a_failing_handler() -> None:
    queue = InProcessQueue(concurrency=2)
    both_running = threading.Barrier(2, timeout=5)
    finished: list[str] = []

    def handler(job_id: str, _trace_context: Carrier) -> None:
        if job_id == "boom":
            raise RuntimeError("handler bug")
        both_running.wait()  # only passes if two jobs run at the same time
        finished.append(job_id)

    queue.start(handler)
    for job_id in ("boom", "a", "b"):
        queue.publish(job_id=job_id, priority=5)
    deadline = threading.Event()
    for _ in range(50):
        if len(finished) == 2:
            break
        deadline.wait(0.1)
    queue.stop(timeout=5)
    assert sorted(finished) == ["a", "b"]


def test_stop_leaves_unstarted_jobs_for_the_next_start() -> None:
    queue = InProcessQueue(concurrency=0)
    queue.publish(job_id="x", priority=5)
    queue.stop(timeout=1)
    assert queue.depth() == 1  # the job row stays queued; recovery republishes it


def test_the_trace_context_reaches_the_handler_with_its_job() -> None:
    queue = InProcessQueue(concurrency=1)
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    queue.publish(job_id="traced", priority=5, trace_context={"traceparent": traceparent})
    queue.publish(job_id="untraced", priority=1)
    delivered: dict[str, dict[str, str]] = {}
    done = threading.Event()

    def handler(job_id: str, trace_context: Carrier) -> None:
        delivered[job_id] = dict(trace_context)
        if len(delivered) == 2:
            done.set()

    queue.start(handler)
    assert done.wait(5)
    queue.stop(timeout=5)
    assert delivered == {"traced": {"traceparent": traceparent}, "untraced": {}}
