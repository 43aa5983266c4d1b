"""The instruments, the merge of several processes' snapshots, and the exposition."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from seriesguard.api.server import server_metrics_dir
from seriesguard.observability.metrics import (
    HTTP_BUCKETS,
    Counter,
    FunctionMetric,
    Histogram,
    Metrics,
    exported_metric_names,
)
from seriesguard.observability.metrics_share import (
    MergedCollector,
    MetricsExporter,
    ProcessSnapshot,
    SnapshotFolder,
    clear_snapshots,
)
from seriesguard.scheduler.leader import FileLeaderLock
from seriesguard.scheduler.service import PeriodicTask, Scheduler
from seriesguard.settings import Settings


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """``{(sample name, sorted labels): value}`` of a Prometheus text exposition."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def exposition(metrics: Metrics, *snapshots: ProcessSnapshot) -> Samples:
    """What /metrics says with ``metrics`` live here and the other processes' snapshots."""
    own = ProcessSnapshot(os.getpid(), True, metrics.snapshot())
    return samples(generate_latest(MergedCollector(metrics, [own, *snapshots])).decode())


def test_counter_counts_per_label_set_and_refuses_bad_updates() -> None:
    counter = Counter("x_total", "x", ("a", "b"))
    counter.inc("1", "2")
    counter.inc("1", "2", amount=2.5)
    counter.inc("1", "3")
    assert counter.value("1", "2") == 3.5
    assert sorted(counter.samples()) == [(("1", "2"), 3.5), (("1", "3"), 1.0)]
    with pytest.raises(ValueError):
        counter.inc("only-one")
    with pytest.raises(ValueError):
        counter.inc("1", "2", amount=-1)
    with pytest.raises(ValueError):
        Counter("no_suffix", "x")


def test_histogram_bounds_are_inclusive_and_overflow_is_kept() -> None:
    histogram = Histogram("h_seconds", "h", buckets=(0.1, 1.0), labelnames=("r",))
    for value in (0.05, 0.1, 0.5, 7.0):
        histogram.observe(value, "a")
    [(labels, cells)] = histogram.samples()
    assert labels == ("a",)
    assert cells[:3] == [2.0, 1.0, 1.0]  # <=0.1 (0.1 included), <=1, above
    assert cells[3] == pytest.approx(7.65)
    assert histogram.count("a") == 4


def test_function_metric_reads_its_function_and_survives_its_failure() -> None:
    unlabelled = FunctionMetric("f", "f", kind="gauge", scope="per_process")
    assert unlabelled.samples() == []  # unbound: no sample
    unlabelled.set_function(lambda: 3)
    assert unlabelled.samples() == [((), 3.0)]
    labelled = FunctionMetric("g_total", "g", kind="counter", scope="fleet", label="kind")
    labelled.set_function(lambda: {"data": 2.0, "concept": 1.0})
    assert sorted(labelled.samples()) == [(("concept",), 1.0), (("data",), 2.0)]
    labelled.set_function(lambda: 1 / 0)
    assert labelled.samples() == []


def test_snapshot_leaves_out_the_fleet_figures_and_the_ratio() -> None:
    metrics = Metrics()
    metrics.training_queue_depth.set_function(lambda: 5.0)
    metrics.predictions.inc("true", "fallback_zscore")
    snapshot = metrics.snapshot()
    assert snapshot["anomaly_predictions_total"] == [[["true", "fallback_zscore"], 1.0]]
    assert "training_queue_depth" not in snapshot
    assert "model_cache_hit_rate" not in snapshot
    json.dumps(snapshot)  # what goes to the file


def other_process(pid: int, *, alive: bool, build: int) -> ProcessSnapshot:
    metrics = Metrics()
    metrics.http_requests.inc("/r", "GET", "200", amount=build)
    metrics.http_duration.observe(0.2, "/r", "GET")
    metrics.training_in_progress.set(build)
    metrics.scheduler_is_leader.set(1.0)
    metrics.cache_hits.set_function(lambda: 3.0)
    metrics.cache_misses.set_function(lambda: 1.0)
    return ProcessSnapshot(pid, alive, metrics.snapshot())


def test_merge_sums_counters_and_histograms_of_live_and_dead_processes() -> None:
    own = Metrics()
    own.http_requests.inc("/r", "GET", "200")
    own.http_duration.observe(0.0001, "/r", "GET")
    merged = exposition(
        own, other_process(1, alive=True, build=2), other_process(2, alive=False, build=4)
    )
    labels = (("method", "GET"), ("route", "/r"), ("status", "200"))
    assert merged[("http_requests_total", labels)] == 7.0
    timing = (("method", "GET"), ("route", "/r"))
    assert merged[("http_request_duration_seconds_count", timing)] == 3.0
    for le, count in (("0.0005", 1.0), ("0.1", 1.0), ("0.25", 3.0), ("+Inf", 3.0)):
        bucket = (("le", le), *timing)
        assert merged[("http_request_duration_seconds_bucket", bucket)] == count, le
    assert merged[("http_request_duration_seconds_sum", timing)] == pytest.approx(0.4001)


def test_gauges_merge_by_their_mode() -> None:
    own = Metrics()
    own.training_in_progress.set(1.0)
    merged = exposition(
        own, other_process(1, alive=True, build=2), other_process(2, alive=False, build=4)
    )
    assert merged[("training_jobs_in_progress", ())] == 3.0  # live_sum: the dead one dropped
    assert merged[("scheduler_is_leader", ())] == 1.0  # max
    assert merged[("seriesguard_build_info", (("version", "0.1.0"),))] == 1.0  # max, not 3


def test_the_hit_rate_is_computed_from_the_merged_counts() -> None:
    own = Metrics()
    own.cache_hits.set_function(lambda: 0.0)
    own.cache_misses.set_function(lambda: 4.0)
    merged = exposition(own, other_process(1, alive=False, build=1))
    assert merged[("model_cache_hits_total", ())] == 3.0
    assert merged[("model_cache_misses_total", ())] == 5.0
    assert merged[("model_cache_hit_rate", ())] == pytest.approx(3 / 8)
    assert ("model_cache_hit_rate", ()) not in exposition(Metrics())  # no lookup yet: no sample


def test_fleet_figures_are_read_once_by_the_answering_process() -> None:
    own = Metrics()
    own.training_queue_depth.set_function(lambda: 3.0)
    own.drift_detected.set_function(lambda: {"data": 2.0})
    other = Metrics()
    other.training_queue_depth.set_function(lambda: 3.0)
    merged = exposition(own, ProcessSnapshot(1, True, other.snapshot()))
    assert merged[("training_queue_depth", ())] == 3.0
    assert merged[("model_drift_detected_total", (("kind", "data"),))] == 2.0


def test_every_exposed_name_is_in_the_exported_names() -> None:
    metrics = Metrics()
    metrics.http_requests.inc("/r", "GET", "200")
    metrics.http_duration.observe(0.1, "/r", "GET")
    metrics.training_jobs.inc("completed")
    metrics.training_duration.observe(1.0)
    metrics.cache_hits.set_function(lambda: 1.0)
    metrics.cache_misses.set_function(lambda: 0.0)
    metrics.training_queue_depth.set_function(lambda: 0.0)
    text, _ = MetricsExporter(metrics, folder=None).render(None)
    names = exported_metric_names()
    families = list(text_string_to_metric_families(text.decode()))
    exposed = {s.name for f in families for s in f.samples} | {f.name for f in families}
    assert exposed <= names
    assert {
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "model_cache_hit_rate",
        "seriesguard_build_info",
    } <= exposed
    assert len(HTTP_BUCKETS) == 14


def test_exporter_answers_openmetrics_when_asked() -> None:
    metrics = Metrics()
    metrics.rollbacks.inc()
    exporter = MetricsExporter(metrics, folder=None)
    text, content_type = exporter.render("application/openmetrics-text; version=1.0.0")
    assert content_type.startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(text.decode())}
    assert families["model_rollbacks"].samples[0].value == 1.0
    plain, plain_type = exporter.render(None)
    assert plain_type == "text/plain; version=0.0.4; charset=utf-8"
    assert samples(plain.decode())[("model_rollbacks_total", ())] == 1.0


def test_exporter_merges_the_folder_and_keeps_a_dead_process(tmp_path: Path) -> None:
    dead = SnapshotFolder(tmp_path, pid=dead_pid())
    dead.write(other_process(0, alive=True, build=5).values)
    metrics = Metrics()
    metrics.http_requests.inc("/r", "GET", "200")
    metrics.training_in_progress.set(1.0)
    exporter = MetricsExporter(metrics, folder=tmp_path)
    exporter.start()
    try:
        merged = samples(exporter.render(None)[0].decode())
    finally:
        exporter.stop()
    labels = (("method", "GET"), ("route", "/r"), ("status", "200"))
    assert merged[("http_requests_total", labels)] == 6.0
    assert merged[("training_jobs_in_progress", ())] == 1.0  # the dead one's 5 dropped
    assert (tmp_path / f"{os.getpid()}.json").exists()  # left for the others


def test_a_reused_pid_does_not_bring_a_dead_process_back(tmp_path: Path) -> None:
    live_pid = os.getppid()
    (tmp_path / f"{live_pid}.json").write_text(
        json.dumps({"pid": live_pid, "started": 1, "values": {}})  # started at another time
    )
    [found] = SnapshotFolder(tmp_path).read_others()
    assert found.pid == live_pid
    assert found.alive is (sys.platform != "linux")


def test_a_new_process_keeps_the_snapshot_a_dead_one_left_under_its_pid(tmp_path: Path) -> None:
    stale = {"pid": os.getpid(), "started": 1, "values": {"model_rollbacks_total": [[[], 2.0]]}}
    (tmp_path / f"{os.getpid()}.json").write_text(json.dumps(stale))
    metrics = Metrics()
    metrics.rollbacks.inc()
    exporter = MetricsExporter(metrics, folder=tmp_path)
    exporter.start()
    try:
        merged = samples(exporter.render(None)[0].decode())
    finally:
        exporter.stop()
    assert merged[("model_rollbacks_total", ())] == 3.0


def test_the_sharing_thread_publishes_and_stop_leaves_the_last_values(tmp_path: Path) -> None:
    metrics = Metrics()
    exporter = MetricsExporter(metrics, folder=tmp_path, interval_seconds=0.05)
    exporter.start()
    own = tmp_path / f"{os.getpid()}.json"
    metrics.rollbacks.inc()
    deadline = time.monotonic() + 10
    while not own.exists() or '"model_rollbacks_total":[[[],1.0]]' not in own.read_text():
        assert time.monotonic() < deadline, own.read_text()
        time.sleep(0.02)
    exporter.stop()
    metrics.rollbacks.inc()  # after the thread stopped: only an explicit publish writes it
    assert json.loads(own.read_text())["values"]["model_rollbacks_total"] == [[[], 1.0]]
    clear_snapshots(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_without_a_folder_the_exporter_answers_for_this_process_alone() -> None:
    exporter = MetricsExporter(Metrics(), folder=None)
    exporter.start()
    assert [s.pid for s in exporter.snapshots()] == [os.getpid()]
    exporter.stop()


def test_a_multi_process_server_gets_a_fresh_shared_folder(tmp_path: Path) -> None:
    made, made_here = server_metrics_dir(Settings(home=tmp_path))
    try:
        assert made_here and made.is_dir() and list(made.iterdir()) == []
    finally:
        made.rmdir()
    configured = tmp_path / "metrics"
    configured.mkdir()
    (configured / "123.json").write_text("{}")  # a previous server's
    (configured / "notes.txt").write_text("kept")
    assert server_metrics_dir(Settings(home=tmp_path, metrics_dir=configured)) == (
        configured,
        False,
    )
    assert [p.name for p in configured.iterdir()] == ["notes.txt"]


def test_the_scheduler_counts_runs_by_task_and_outcome_and_says_who_leads(
    tmp_path: Path,
) -> None:
    metrics = Metrics()

    def fail() -> None:
        raise RuntimeError("down")

    tasks = [PeriodicTask("ok_task", 10.0, lambda: None), PeriodicTask("bad_task", 10.0, fail)]
    leader = Scheduler(lock=FileLeaderLock(tmp_path / "s.lock"), tasks=tasks, metrics=metrics)
    follower_metrics = Metrics()
    follower = Scheduler(
        lock=FileLeaderLock(tmp_path / "s.lock"), tasks=[], metrics=follower_metrics
    )
    assert leader.run_due() == ["ok_task"]
    follower.run_due()
    assert metrics.scheduler_runs.value("ok_task", "ok") == 1
    assert metrics.scheduler_runs.value("bad_task", "failed") == 1
    assert metrics.scheduler_duration.count("bad_task") == 1
    assert metrics.scheduler_is_leader.value() == 1.0
    assert follower_metrics.scheduler_is_leader.value() == 0.0
    leader.stop()
    assert metrics.scheduler_is_leader.value() == 0.0
