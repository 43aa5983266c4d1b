"""The Prometheus metrics of every seriesguard process, as plain in-process instruments.

An update is a dict lookup and a ``+=`` on a list cell (~0.3 µs here): the predictor makes
tens of thousands a second, and prometheus_client's own multiprocess values (an mmap write
under a lock per update) cost several times that. Updates take no lock: the hot ones come
from a process's one event loop, and a lost increment would need two threads updating the
same label set within the same few bytecodes. Reading, exporting and merging the processes of
one server are :mod:`seriesguard.observability.metrics_share`'s.

The hot-path API, labels positional in the order of the instrument's ``labelnames``::

    metrics.predictions.inc("true", "mlflow_trained")
    metrics.model_load.observe(0.012, "mlflow")
    metrics.training_in_progress.inc()            # and .dec(), .set(3.0)
    metrics.training_queue_depth.set_function(lambda: 3.0)                      # fleet
    metrics.drift_detected.set_function(lambda: {"data": 2.0, "concept": 1.0})  # fleet

No label may ever carry a series id (285k series would sink Prometheus; DESIGN.md §2).
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

from seriesguard import __version__

log = logging.getLogger(__name__)

Labels = tuple[str, ...]
GaugeMode = Literal["sum", "max", "live_sum"]
"""How the processes of one server merge a gauge: summed, the largest, or summed over the
processes still alive (a dead process's value dropped). Counters are always summed."""
FunctionScope = Literal["per_process", "fleet"]
"""``per_process``: evaluated in each process and merged like an updated instrument;
``fleet``: a figure of the shared database, evaluated only by the process answering."""
ValueFunction = Callable[[], float] | Callable[[], Mapping[str, float]]

HTTP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
MODEL_LOAD_BUCKETS = (0.0001, 0.001, 0.01, 0.05, 0.1, 0.5, 1, 5)
TRAINING_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
SCHEDULER_BUCKETS = (0.01, 0.1, 1, 10, 60, 300)
FLUSH_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 30)


def _checked(name: str, labelnames: Sequence[str], labels: Labels) -> Labels:
    """A new label set (checked once, when first seen: never again on the hot path)."""
    if len(labels) != len(labelnames) or not all(isinstance(v, str) for v in labels):
        raise ValueError(f"{name} takes {len(labelnames)} str label(s) {labelnames}: {labels}")
    return labels


class Counter:
    kind: Literal["counter"] = "counter"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"counter {name} must end with _total")
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._cells: dict[Labels, list[float]] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        if amount < 0:
            raise ValueError(f"{self.name} cannot go down (amount {amount})")
        try:
            self._cells[labels][0] += amount
        except KeyError:
            self._cells.setdefault(_checked(self.name, self.labelnames, labels), [0.0])[0] += amount

    def cell(self, *labels: str) -> list[float]:
        """The one-item list holding a label set's count, for a hot path that keeps it and
        adds in place (``cell[0] += 1``): no label lookup per update."""
        return self._cells.setdefault(_checked(self.name, self.labelnames, labels), [0.0])

    def value(self, *labels: str) -> float:
        cell = self._cells.get(labels)
        return cell[0] if cell is not None else 0.0

    def samples(self) -> list[tuple[Labels, float]]:
        return [(labels, cell[0]) for labels, cell in self._cells.copy().items()]


class Gauge:
    kind: Literal["gauge"] = "gauge"

    def __init__(
        self, name: str, documentation: str, *, mode: GaugeMode, labelnames: Sequence[str] = ()
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.mode = mode
        self.labelnames = tuple(labelnames)
        self._cells: dict[Labels, list[float]] = {}

    def _cell(self, labels: Labels) -> list[float]:
        cell = self._cells.get(labels)
        if cell is None:
            cell = self._cells.setdefault(_checked(self.name, self.labelnames, labels), [0.0])
        return cell

    def set(self, value: float, *labels: str) -> None:
        self._cell(labels)[0] = value

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self._cell(labels)[0] += amount

    def dec(self, *labels: str, amount: float = 1.0) -> None:
        self._cell(labels)[0] -= amount

    def value(self, *labels: str) -> float:
        cell = self._cells.get(labels)
        return cell[0] if cell is not None else 0.0

    def samples(self) -> list[tuple[Labels, float]]:
        return [(labels, cell[0]) for labels, cell in self._cells.copy().items()]


class Histogram:
    """Per label set, one cell list: a count per bucket, the count above the last bound, the
    sum. ``bisect_left`` finds the first bound >= the value: Prometheus's ``le``."""

    kind: Literal["histogram"] = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        *,
        buckets: Sequence[float],
        labelnames: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(sorted(float(b) for b in buckets))
        self.labelnames = tuple(labelnames)
        self._cells: dict[Labels, list[float]] = {}

    def observe(self, value: float, *labels: str) -> None:
        cells = self._cells.get(labels)
        if cells is None:
            cells = self.cells(*labels)
        cells[bisect_left(self.bounds, value)] += 1.0
        cells[-1] += value

    def cells(self, *labels: str) -> list[float]:
        """A label set's cells, for a hot path that keeps them (see :meth:`observe`)."""
        fresh = [0.0] * (len(self.bounds) + 2)
        return self._cells.setdefault(_checked(self.name, self.labelnames, labels), fresh)

    def count(self, *labels: str) -> float:
        cells = self._cells.get(labels)
        return sum(cells[:-1]) if cells is not None else 0.0

    def samples(self) -> list[tuple[Labels, list[float]]]:
        """Per label set: the per-bucket counts (overflow last), then the sum."""
        return [(labels, list(cells)) for labels, cells in self._cells.copy().items()]


class FunctionMetric:
    """A counter or gauge whose value a function gives when read, e.g. the model table's
    hit count, or the training queue's depth in the database. Unbound: no sample.

    Unlabelled, the function returns a number; with one label, ``{label value: number}``."""

    def __init__(
        self,
        name: str,
        documentation: str,
        *,
        kind: Literal["counter", "gauge"],
        scope: FunctionScope,
        mode: GaugeMode = "sum",
        label: str | None = None,
    ) -> None:
        if kind == "counter" and not name.endswith("_total"):
            raise ValueError(f"counter {name} must end with _total")
        self.name = name
        self.documentation = documentation
        self.kind = kind
        self.scope = scope
        self.mode = mode
        self.labelnames: Labels = (label,) if label else ()
        self._function: ValueFunction | None = None

    def set_function(self, function: ValueFunction) -> None:
        self._function = function

    def samples(self) -> list[tuple[Labels, float]]:
        """The function's value now; nothing (and a warning) when it fails: a scrape must
        not fail because the database is down."""
        if self._function is None:
            return []
        try:
            value: Any = self._function()
            if not self.labelnames:
                return [((), float(value))]
            return [((str(key),), float(v)) for key, v in dict(value).items()]
        except Exception:
            log.warning("metric %s could not be read", self.name, exc_info=True)
            return []


class HitRatio:
    """A gauge computed at export from the MERGED hits and misses of two counters: the hit
    rate of the whole server, not an average of per-process rates. No sample before the
    first lookup (neither a NaN nor a made-up 1.0)."""

    kind: Literal["ratio"] = "ratio"
    labelnames: Labels = ()

    def __init__(
        self, name: str, documentation: str, *, hits: FunctionMetric, misses: FunctionMetric
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.hits = hits
        self.misses = misses


Instrument = Counter | Gauge | Histogram | FunctionMetric | HitRatio
_I = TypeVar("_I", Counter, Gauge, Histogram, FunctionMetric, HitRatio)


class Metrics:
    """Every instrument of a process; one set per :class:`~seriesguard.runtime.Runtime`.
    The names are a contract (alert rules and dashboards are written against them)."""

    def __init__(self, *, version: str = __version__) -> None:
        self._all: list[Instrument] = []
        counter, gauge, histogram, add = self._counter, self._gauge, self._histogram, self._add
        # fmt: off
        # RED, by route template (observability/red.py)
        self.http_requests = counter("http_requests_total", "HTTP requests answered.",
                                     "route", "method", "status")
        self.http_duration = histogram("http_request_duration_seconds",
                                       "Time to answer an HTTP request.", HTTP_BUCKETS,
                                       "route", "method")
        # predictor
        self.predictions = counter("anomaly_predictions_total", "Predictions made.",
                                   "anomaly", "model_type")
        self.model_load = histogram("model_load_duration_seconds",
                                    "Time to load a model into memory.", MODEL_LOAD_BUCKETS,
                                    "source")
        self.cache_hits = add(FunctionMetric(
            "model_cache_hits_total", "Model table lookups that found the model.",
            kind="counter", scope="per_process"))
        self.cache_misses = add(FunctionMetric(
            "model_cache_misses_total", "Model table lookups that did not.",
            kind="counter", scope="per_process"))
        self.cache_hit_rate = add(HitRatio(
            "model_cache_hit_rate", "Share of model table lookups that hit, all processes "
            "together; no sample before the first lookup.",
            hits=self.cache_hits, misses=self.cache_misses))
        self.models_in_memory = add(FunctionMetric(
            "models_in_memory", "Models held in memory by a predictor.",
            kind="gauge", scope="per_process", mode="max"))
        # training
        self.training_queue_depth = add(FunctionMetric(
            "training_queue_depth", "Training jobs waiting to run.", kind="gauge", scope="fleet"))
        self.drift_detected = add(FunctionMetric(
            "model_drift_detected_total", "Drift detections, by kind.",
            kind="counter", scope="fleet", label="kind"))
        self.training_jobs = counter("training_jobs_total", "Training jobs finished.", "outcome")
        self.training_duration = histogram("training_job_duration_seconds",
                                           "Time to run one training job.", TRAINING_BUCKETS)
        self.training_in_progress = gauge("training_jobs_in_progress",
                                          "Training jobs being run now.", "live_sum")
        # scheduler
        self.scheduler_runs = counter("scheduler_task_runs_total", "Scheduled task runs.",
                                      "task", "outcome")
        self.scheduler_duration = histogram("scheduler_task_duration_seconds",
                                            "Time to run a scheduled task.", SCHEDULER_BUCKETS,
                                            "task")
        self.scheduler_is_leader = gauge("scheduler_is_leader",
                                         "1 while this scheduler holds the leader lock.", "max")
        # per-series statistics
        self.stats_flushes = counter("series_stats_flushes_total",
                                     "Flushes of per-series statistics to the database.",
                                     "outcome")
        self.stats_flush_duration = histogram("series_stats_flush_duration_seconds",
                                              "Time to flush per-series statistics.",
                                              FLUSH_BUCKETS)
        self.stats_dropped = counter("series_stats_dropped_total",
                                     "Per-series statistics dropped, not flushed.")
        # history store (read from the predictor's recorder when scraped: nothing on the hot path)
        self.history_recorded = add(FunctionMetric(
            "history_points_recorded_total", "Points the predictor kept for the history store.",
            kind="counter", scope="per_process"))
        self.history_dropped = add(FunctionMetric(
            "history_points_dropped_total", "History points dropped, not written (the store "
            "unreachable for longer than history_max_pending_points lasts).",
            kind="counter", scope="per_process"))
        # alerts
        self.alerts_sent = counter("alerts_sent_total",
                                   "Alerts handed to a channel, by outcome (sent, failed, "
                                   "suppressed by the cooldown, dropped from a full queue).",
                                   "kind", "channel", "outcome")
        # promotion
        self.promotions = counter("model_promotions_total", "Model stage changes.", "stage")
        self.rollbacks = counter("model_rollbacks_total", "Model rollbacks.")
        self.build_info = gauge("seriesguard_build_info", "Always 1; the version label.",
                                "max", "version")
        # fmt: on
        self.build_info.set(1.0, version)

    def _add(self, instrument: _I) -> _I:
        self._all.append(instrument)
        return instrument

    def _counter(self, name: str, documentation: str, *labelnames: str) -> Counter:
        return self._add(Counter(name, documentation, labelnames))

    def _gauge(self, name: str, documentation: str, mode: GaugeMode, *labelnames: str) -> Gauge:
        return self._add(Gauge(name, documentation, mode=mode, labelnames=labelnames))

    def _histogram(
        self, name: str, documentation: str, buckets: Sequence[float], *labelnames: str
    ) -> Histogram:
        return self._add(Histogram(name, documentation, buckets=buckets, labelnames=labelnames))

    def instruments(self) -> tuple[Instrument, ...]:
        return tuple(self._all)

    def snapshot(self) -> dict[str, list[Any]]:
        """This process's own values, JSON-ready: every instrument but the fleet functions
        and the ratios (they are computed by the process that answers a scrape)."""
        return {
            instrument.name: [[list(labels), value] for labels, value in instrument.samples()]
            for instrument in self._all
            if not isinstance(instrument, HitRatio)
            and not (isinstance(instrument, FunctionMetric) and instrument.scope == "fleet")
        }


def sample_names(instrument: Instrument) -> Iterator[str]:
    """The names an instrument's samples and family carry in the exposition."""
    if instrument.kind == "counter":
        yield instrument.name
        yield instrument.name.removesuffix("_total")
    elif instrument.kind == "histogram":
        yield instrument.name
        yield from (instrument.name + suffix for suffix in ("_bucket", "_sum", "_count"))
    else:
        yield instrument.name


def exported_metric_names() -> frozenset[str]:
    """Every name ``/metrics`` can expose: sample names (``_total``, ``_bucket``, ``_sum``,
    ``_count``) and the bare family names, for checking alert rules and dashboards."""
    return frozenset(name for i in Metrics().instruments() for name in sample_names(i))
