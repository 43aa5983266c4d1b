"""The reference a version is judged against later: its training window, summarised.

Deciles of the training values cut the line into at most ten bins (open at both ends, so
every future input falls in one); the counts per bin are the reference histogram of the
population stability index. The share of training points the fitted model flags is the
baseline of the anomaly-rate test.
"""

from __future__ import annotations

import numpy as np

from seriesguard.core.detectors.base import Detector, FloatArray
from seriesguard.core.monitoring import REFERENCE_BINS, ReferenceSummary


def reference_edges(values: FloatArray, *, bins: int = REFERENCE_BINS) -> tuple[float, ...]:
    """Interior cut points at the quantiles 1/bins .. (bins-1)/bins, repeated ones merged
    (a series that sits on a few values has fewer, wider bins)."""
    quantiles = np.quantile(values, np.arange(1, bins) / bins)
    return tuple(float(edge) for edge in np.unique(quantiles))


def bin_counts(values: FloatArray, edges: tuple[float, ...]) -> tuple[int, ...]:
    """Points per bin; a value equal to an edge belongs to the bin above it, as in
    ``bisect.bisect_right`` (what the predictor uses one point at a time)."""
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    return tuple(int(c) for c in np.bincount(index, minlength=len(edges) + 1))


def summarise(values: FloatArray, timestamps: FloatArray, detector: Detector) -> ReferenceSummary:
    """The reference of a version fitted on ``values``."""
    edges = reference_edges(values)
    flagged = detector.training_scores(values, timestamps) > detector.threshold
    return ReferenceSummary(
        edges=edges,
        counts=bin_counts(values, edges),
        n_points=int(values.shape[0]),
        anomaly_rate=float(np.count_nonzero(flagged)) / max(int(values.shape[0]), 1),
    )
