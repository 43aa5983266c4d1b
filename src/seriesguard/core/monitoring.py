"""Records of what the fleet is doing: per-series statistics, ground truth and drift runs.

Plain data, shared by the predictor (which counts), the store (which keeps) and the
monitoring service (which judges). No I/O here.

Per-series figures never become Prometheus labels (285,000 label values would sink a
Prometheus); they are counted in each predictor process, per (series, version, hour), and
flushed to the metadata DB, where rows of any number of processes add up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import NamedTuple

from seriesguard.core.errors import InvalidInput

# Inputs are binned against the reference histogram of the version that scored them: at most
# this many bins (deciles of the training window, open at both ends).
REFERENCE_BINS = 10
# A fallback answer (no trained model) is counted under this version number.
FALLBACK_VERSION = 0
SECONDS_PER_HOUR = 3600


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def hour_of(epoch_seconds: float) -> int:
    """The hourly bucket a moment falls in: whole hours since the Unix epoch."""
    return int(epoch_seconds // SECONDS_PER_HOUR)


class StatsRow(NamedTuple):
    """Cumulative counts of one process for one (series, version) in one hour.

    A process rewrites its own row as the hour goes on (the counts only grow), so a flush
    repeated after a failure changes nothing; rows of different ``source`` processes add up.
    ``latency`` is a sparse latency sketch (bucket index -> count, see ``core.sketch``);
    ``bins[i]`` counts inputs that fell in reference bin ``i`` (inputs of a version without
    a reference are not binned).
    """

    series_id: str
    version: int
    hour: int
    source: str
    requests: int
    errors: int
    anomalies: int
    latency: dict[int, int]
    bins: tuple[int, ...]  # always REFERENCE_BINS long
    agreements: int = 0  # shadow rows: requests whose verdict matched the answering version's


@dataclass(frozen=True, slots=True)
class WindowStats:
    """Statistics of one (series, version) summed over a window and over every process."""

    series_id: str
    version: int
    requests: int
    errors: int
    anomalies: int
    latency: dict[int, int]
    bins: tuple[int, ...]
    first_hour: int
    last_hour: int


@dataclass(frozen=True, slots=True)
class FlaggedPrediction:
    """A prediction that flagged an anomaly: kept so ground truth can be joined to it."""

    series_id: str
    timestamp: float
    version: int
    score: float
    predicted_at: float


@dataclass(frozen=True, slots=True)
class LabelledPoint:
    """Ground truth for one point of a series, as an operator or a labelling tool sent it."""

    timestamp: float
    is_anomaly: bool


@dataclass(frozen=True, slots=True)
class ReferenceSummary:
    """What a version learnt about its training window, for drift checks against it.

    ``edges`` are the interior cut points (ascending, at most REFERENCE_BINS - 1), ``counts``
    the training points per bin (``len(edges) + 1`` of them); ``anomaly_rate`` is the share
    of training points the fitted model itself flags, out of ``n_points``: the baseline of
    the concept-drift test.
    """

    edges: tuple[float, ...]
    counts: tuple[int, ...]
    n_points: int
    anomaly_rate: float

    def to_json(self) -> dict[str, object]:
        return {
            "edges": list(self.edges),
            "counts": list(self.counts),
            "n_points": self.n_points,
            "anomaly_rate": self.anomaly_rate,
        }

    @classmethod
    def from_json(cls, document: object) -> ReferenceSummary:
        if not isinstance(document, dict):
            raise ValueError("a reference is a JSON object {edges, counts, n_points, anomaly_rate}")
        edges = document["edges"]
        counts = document["counts"]
        if not isinstance(edges, list) or not isinstance(counts, list):
            raise ValueError("reference edges and counts must be lists")
        if len(counts) != len(edges) + 1 or len(counts) > REFERENCE_BINS:
            raise ValueError(
                f"a reference has len(edges) + 1 <= {REFERENCE_BINS} counts; got "
                f"{len(edges)} edges and {len(counts)} counts"
            )
        n_points = document["n_points"]
        rate = document["anomaly_rate"]
        if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 0:
            raise ValueError("reference n_points must be an integer >= 0")
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ValueError("reference anomaly_rate must be a number in [0, 1]")
        if not all(_number(e) and math.isfinite(e) for e in edges) or edges != sorted(edges):
            raise ValueError("reference edges must be finite numbers in ascending order")
        if not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            raise ValueError("reference counts must be integers >= 0")
        return cls(
            edges=tuple(float(e) for e in edges),
            counts=tuple(int(c) for c in counts),
            n_points=n_points,
            anomaly_rate=float(rate),
        )


@dataclass(frozen=True, slots=True)
class DriftFinding:
    """One drift verdict of a fleet check that found drift, with its evidence."""

    series_id: str
    version: int
    kind: str  # data | concept | precision
    statistic: float
    threshold: float
    sample_size: int
    details: dict[str, float | int | str | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DriftRun:
    """One pass of the fleet drift check."""

    id: str
    started_at: float
    finished_at: float | None
    window_seconds: int
    series_checked: int
    data_drifted: int
    concept_drifted: int
    insufficient: int
    status: str  # running | succeeded | failed
    triggered_by: str


WINDOW_UNITS = {"h": SECONDS_PER_HOUR, "d": 24 * SECONDS_PER_HOUR}
MAX_WINDOW_SECONDS = 90 * 24 * SECONDS_PER_HOUR


def parse_window(text: str, *, loc: tuple[str | int, ...] = ("query", "window")) -> int:
    """``"24h"`` or ``"7d"`` -> seconds. Statistics are kept in hourly buckets, so a window
    is a whole number of hours, from 1 hour to 90 days."""
    unit = WINDOW_UNITS.get(text[-1:]) if text else None
    count = text[:-1]
    if unit is None or not count.isdigit() or not count.isascii():
        raise InvalidInput(
            f"window must be a whole number of hours or days such as 24h or 7d, got {text!r}",
            rule="window_format",
            loc=loc,
        )
    seconds = int(count) * unit
    if not SECONDS_PER_HOUR <= seconds <= MAX_WINDOW_SECONDS:
        raise InvalidInput(
            f"window must be between 1h and 90d, got {text!r}", rule="window_range", loc=loc
        )
    return seconds
