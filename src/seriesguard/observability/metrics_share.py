"""``/metrics`` for one process or for every process of a multi-process server.

uvicorn's workers share one port: a scrape reaches whichever takes the connection, and must
still report the whole server. So each process, when sharing is on (a ``metrics_dir``), writes
its instruments to ``<metrics_dir>/<pid>.json`` every second and right before it answers a
scrape (temp file + rename: a reader sees the old snapshot or the new, never half of one), and
the process answering reads every snapshot of the folder, its own live values instead of its
file, and merges:

- counters and histograms: summed, dead processes included (a counter never goes down
  because a worker died; its last snapshot stays in the folder);
- gauges, by mode: ``sum``, ``max``, or ``live_sum`` (a dead process's value dropped);
- ``fleet`` functions (figures of the shared database): evaluated by the answering process
  only, never merged; the hit ratio: computed from the merged hits and misses.

A process is alive when its pid exists and, where ``/proc`` says, started when its snapshot
says: a pid reused by another process does not bring a dead one back. Without a folder,
nothing is shared: no thread, no file.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from seriesguard.observability.metrics import (
    FunctionMetric,
    Histogram,
    HitRatio,
    Instrument,
    Labels,
    Metrics,
)

log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL_SECONDS = 1.0
_SNAPSHOT_GLOB = "*.json"


@dataclass(frozen=True)
class ProcessSnapshot:
    """One process's values: ``{metric name: [[labels, value], ...]}`` (a histogram's value
    is its cell list: per-bucket counts, overflow, sum)."""

    pid: int
    alive: bool
    values: dict[str, list[Any]]


def process_start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot (Linux); None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after the name


def is_alive(pid: int, started: int | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, belongs to someone else
        pass
    if started is None:
        return True
    return process_start_time(pid) in (started, None)


class SnapshotFolder:
    """The snapshot files of one server's processes."""

    def __init__(self, folder: Path, *, pid: int | None = None) -> None:
        self.folder = folder
        self.pid = os.getpid() if pid is None else pid
        self.started = process_start_time(self.pid)
        self.own = folder / f"{self.pid}.json"
        self._temp = folder / f".{self.pid}.json.tmp"
        self._lock = threading.Lock()  # the sharing thread and a scrape may write at once

    def claim(self) -> None:
        """Make the folder; a snapshot already under this pid is a dead process's (pid
        reused): keep its counts under another name rather than overwrite them."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.own.exists():
            self.own.rename(self.folder / f"{self.pid}-{os.urandom(4).hex()}.json")

    def write(self, values: dict[str, list[Any]]) -> None:
        payload = {"pid": self.pid, "started": self.started, "values": values}
        data = json.dumps(payload, separators=(",", ":"))
        with self._lock:
            self._temp.write_text(data)
            os.replace(self._temp, self.own)

    def read_others(self) -> list[ProcessSnapshot]:
        """Every snapshot but this process's own; an unreadable one is skipped (and said)."""
        found = []
        for path in sorted(self.folder.glob(_SNAPSHOT_GLOB)):
            if path == self.own:
                continue
            try:
                payload = json.loads(path.read_text())
                pid = int(payload["pid"])
                found.append(
                    ProcessSnapshot(pid, is_alive(pid, payload.get("started")), payload["values"])
                )
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("metrics snapshot %s unreadable; skipped", path, exc_info=True)
        return found


def clear_snapshots(folder: Path) -> None:
    """Remove the snapshots a previous server left in ``folder`` (a new server starts its
    counters from zero, as a single process does)."""
    for path in [*folder.glob(_SNAPSHOT_GLOB), *folder.glob(".*.json.tmp")]:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


class MetricsExporter:
    """What ``/metrics`` answers in one process, and the sharing thread when ``folder`` is
    set (:meth:`start` / :meth:`stop` with the runtime)."""

    def __init__(
        self,
        metrics: Metrics,
        *,
        folder: Path | None,
        interval_seconds: float = SNAPSHOT_INTERVAL_SECONDS,
    ) -> None:
        self.metrics = metrics
        self.folder = SnapshotFolder(folder) if folder is not None else None
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.folder is None or self._thread is not None:
            return
        self.folder.claim()
        self.publish()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="metrics-share", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, and leave a last snapshot: what this process counted outlives it."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(5)
        self._thread = None
        self.publish()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.publish()
            except Exception:  # a full disk must not kill the thread: the next second retries
                log.warning("could not write the metrics snapshot", exc_info=True)

    def publish(self) -> dict[str, list[Any]]:
        """This process's values now, written to the folder when sharing."""
        values = self.metrics.snapshot()
        if self.folder is not None:
            self.folder.write(values)
        return values

    def snapshots(self) -> list[ProcessSnapshot]:
        """This process's live values first, then every other process's last snapshot."""
        own = ProcessSnapshot(os.getpid(), True, self.publish())
        return [own, *(self.folder.read_others() if self.folder is not None else ())]

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition and its content type: Prometheus text 0.0.4, or OpenMetrics when
        the ``Accept`` header asks for it."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(MergedCollector(self.metrics, self.snapshots())), content_type


class MergedCollector:
    """A prometheus_client collector over the merged snapshots of a server's processes."""

    def __init__(self, metrics: Metrics, snapshots: Sequence[ProcessSnapshot]) -> None:
        self._metrics = metrics
        self._snapshots = snapshots

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, dict[Labels, Any]] = {}
        for instrument in self._metrics.instruments():
            samples = self._merged(instrument, merged)
            merged[instrument.name] = samples
            yield family(instrument, samples)

    def _merged(
        self, instrument: Instrument, merged: dict[str, dict[Labels, Any]]
    ) -> dict[Labels, Any]:
        if isinstance(instrument, HitRatio):
            return hit_ratio(merged[instrument.hits.name], merged[instrument.misses.name])
        if isinstance(instrument, FunctionMetric) and instrument.scope == "fleet":
            return dict(instrument.samples())
        if isinstance(instrument, Histogram):
            return sum_cells(self._values_of(instrument.name, alive_only=False))
        mode = "sum" if instrument.kind == "counter" else instrument.mode
        values = self._values_of(instrument.name, alive_only=mode == "live_sum")
        return merge_numbers(values, combine=max if mode == "max" else sum)

    def _values_of(self, name: str, *, alive_only: bool) -> Iterator[tuple[Labels, Any]]:
        for snapshot in self._snapshots:
            if alive_only and not snapshot.alive:
                continue
            for labels, value in snapshot.values.get(name, ()):
                yield tuple(labels), value


def merge_numbers(
    values: Iterable[tuple[Labels, float]], *, combine: Callable[[list[float]], float]
) -> dict[Labels, float]:
    grouped: dict[Labels, list[float]] = {}
    for labels, value in values:
        grouped.setdefault(labels, []).append(float(value))
    return {labels: combine(found) for labels, found in grouped.items()}


def sum_cells(values: Iterable[tuple[Labels, list[float]]]) -> dict[Labels, list[float]]:
    """Histogram cells added element by element; a snapshot with other buckets (another
    version of the code) is skipped rather than mixed in."""
    summed: dict[Labels, list[float]] = {}
    for labels, cells in values:
        total = summed.setdefault(labels, [0.0] * len(cells))
        if len(total) != len(cells):
            log.warning("histogram cells of another shape for %s; skipped", labels)
            continue
        for index, cell in enumerate(cells):
            total[index] += cell
    return summed


def hit_ratio(hits: dict[Labels, float], misses: dict[Labels, float]) -> dict[Labels, float]:
    lookups = sum(hits.values()) + sum(misses.values())
    return {(): sum(hits.values()) / lookups} if lookups > 0 else {}


def family(instrument: Instrument, samples: dict[Labels, Any]) -> Metric:
    """The prometheus_client family of one instrument's merged samples, label sets sorted."""
    labelnames = list(instrument.labelnames)
    ordered = sorted(samples.items())
    if isinstance(instrument, Histogram):
        histogram = HistogramMetricFamily(
            instrument.name, instrument.documentation, labels=labelnames
        )
        for labels, cells in ordered:
            histogram.add_metric(
                list(labels), cumulative_buckets(instrument.bounds, cells), cells[-1]
            )
        return histogram
    metric: CounterMetricFamily | GaugeMetricFamily
    if instrument.kind == "counter":
        metric = CounterMetricFamily(instrument.name, instrument.documentation, labels=labelnames)
    else:
        metric = GaugeMetricFamily(instrument.name, instrument.documentation, labels=labelnames)
    for labels, value in ordered:
        metric.add_metric(list(labels), value)
    return metric


def cumulative_buckets(bounds: Sequence[float], cells: list[float]) -> list[tuple[str, float]]:
    """``(le, count of values <= le)`` per bound, then ``+Inf`` (every value)."""
    buckets, running = [], 0.0
    for bound, count in zip((*bounds, float("inf")), cells[:-1], strict=True):
        running += count
        buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), running))
    return buckets
