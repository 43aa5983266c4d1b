"""A series' canary and shadow at scoring time: splitting a batch run between production and
the canary, and scoring the shadow after the answer is built.

The shadow never changes an answer and never fails a request: it runs once the answer's
bytes exist, its own scoring time is what its latency counts, and any exception it raises is
counted as an error of the shadow's version (its promotion is judged on that) and logged.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seriesguard.core.routing import buckets
from seriesguard.serving.scorer import Routing, Scorer
from seriesguard.serving.stats import StatsRecorder

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class CanaryPart:
    """The points of one batch run that the canary answered: ``mask`` over the run's points
    (rows ``low:low + len(mask)`` of the batch), scored against ``threshold``."""

    scorer: Scorer
    low: int
    mask: BoolArray
    threshold: float

    def positions(self) -> npt.NDArray[np.int64]:
        """The canary's points as rows of the batch."""
        return self.positions_of(self.mask)

    def positions_of(self, mask: BoolArray) -> npt.NDArray[np.int64]:
        """The points of the run selected by ``mask`` as rows of the batch."""
        return np.flatnonzero(mask).astype(np.int64) + self.low


def score_split(
    production: Scorer,
    routing: Routing,
    canary: Scorer,
    *,
    values: FloatArray,
    timestamps: FloatArray,
    out: FloatArray,
    low: int,
) -> CanaryPart:
    """Score one run of a series with a canary into ``out[low:...]``: each point by the
    version its bucket picks (the same split as a single predict of that point)."""
    mask = buckets(routing.series_key, timestamps) < routing.canary_cut
    scores = np.empty(values.shape[0], dtype=np.float64)
    for scorer, chosen in ((canary, mask), (production, ~mask)):
        if chosen.any():
            scores[chosen] = scorer.score_many(values[chosen], timestamps[chosen])[0]
    out[low : low + values.shape[0]] = scores
    return CanaryPart(scorer=canary, low=low, mask=mask, threshold=canary.detector.threshold)


def shadow_one(
    stats: StatsRecorder, shadow: Scorer, *, value: float, timestamp: float, answered: bool
) -> None:
    """Score one request with the series' shadow and count it (``answered``: the verdict
    the caller got)."""
    started = time.perf_counter()
    try:
        anomaly, score = shadow.score_one(value, timestamp)
    except Exception:
        stats.record_error(shadow.key)
        log.warning("shadow %s failed to score", shadow.key, exc_info=True)
        return
    stats.record_shadow(
        shadow,
        value=value,
        timestamp=timestamp,
        anomaly=anomaly,
        score=score,
        seconds=time.perf_counter() - started,
        agreed=anomaly == answered,
    )


def shadow_run(
    stats: StatsRecorder,
    shadow: Scorer,
    *,
    values: FloatArray,
    timestamps: FloatArray,
    answered: BoolArray,
) -> None:
    """Score one run of a batch with the series' shadow and count it; each point waited
    the run's scoring time."""
    started = time.perf_counter()
    try:
        scores, threshold = shadow.score_many(values, timestamps)
    except Exception:
        stats.record_error(shadow.key, count=int(values.shape[0]))
        log.warning("shadow %s failed to score a batch run", shadow.key, exc_info=True)
        return
    anomalies = scores > threshold
    stats.record_shadow_many(
        shadow,
        values=values,
        timestamps=timestamps,
        scores=scores,
        anomalies=anomalies,
        seconds=time.perf_counter() - started,
        agreements=int(np.count_nonzero(anomalies == answered)),
    )
