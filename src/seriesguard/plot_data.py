"""A version's plot as data, for a page to draw: the training window reduced by min/max
bucketing, the detector's normal band, the flagged training points, and the series' recent
points scored by the version. No matplotlib here (the PNG/SVG renderer,
:mod:`seriesguard.plotting`, draws from the same helpers), and no I/O: the caller loads.

Every array leaves as a JSON-ready list, a non-finite number as None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from seriesguard.core.detectors.base import Detector, FloatArray

BUCKETS = 1_000  # about one per pixel column of a plot: at most 2 * BUCKETS points kept
MAX_FLAGGED_SHOWN = 2_000  # flagged training points kept beside the buckets
MAX_BAND_CHANGES = 2_000  # a band that changes more often than this is thinned
MAX_RECENT = 5_000

IntArray = np.ndarray[tuple[int], np.dtype[np.intp]]

# What each algorithm's band is centred on, for the legend; their thresholds are in sigmas.
CENTRE_NAMES = {"statistical": "mean", "robust": "median", "seasonal": "profile"}
SIGMA = "\N{GREEK SMALL LETTER SIGMA}"


@dataclass(frozen=True)
class Band:
    """The normal range at each timestamp (``Detector.band``), with its legend labels."""

    centre: FloatArray
    half_width: FloatArray
    centre_label: str
    label: str


def min_max_indices(values: FloatArray, *, buckets: int = BUCKETS) -> IntArray:
    """Indices of the minimum and maximum of each of ``buckets`` equal slices, in order.

    Drawing these instead of every point keeps spikes (the interesting part) visible,
    where striding or averaging would hide them.
    """
    count = values.shape[0]
    if count <= 2 * buckets:
        return np.arange(count, dtype=np.intp)
    size = math.ceil(count / buckets)
    padded = size * buckets
    low = np.full(padded, np.inf)
    high = np.full(padded, -np.inf)
    low[:count] = np.nan_to_num(values, nan=np.inf)
    high[:count] = np.nan_to_num(values, nan=-np.inf)
    starts = np.arange(buckets) * size
    picks = np.concatenate(
        [
            starts + np.argmin(low.reshape(buckets, size), axis=1),
            starts + np.argmax(high.reshape(buckets, size), axis=1),
            [0, count - 1],
        ]
    )
    picks = picks[picks < count]
    return np.unique(picks)


def detector_band(detector: Detector, timestamps: FloatArray) -> Band | None:
    """The detector's band over ``timestamps`` (None: it has none, or there are no points)."""
    band = detector.band(timestamps) if timestamps.size else None
    if band is None:
        return None
    centre, half_width = band
    name = CENTRE_NAMES.get(detector.algorithm)
    if name is None:  # an algorithm whose threshold need not be in sigmas
        return Band(centre, half_width, centre_label="expected", label="normal range")
    label = f"{name} \N{PLUS-MINUS SIGN} {detector.threshold:g}{SIGMA}"
    return Band(centre, half_width, centre_label=name, label=label)


def step_points(first: FloatArray, *others: FloatArray) -> IntArray:
    """Indices where any of the equal-length arrays changes, plus the first and last: drawn
    as steps that hold each value until the next change, they trace the arrays exactly with
    few points (2 for a constant band, one per hour for a seasonal one, not one per point)."""
    count = first.shape[0]
    if count <= 2:
        return np.arange(count, dtype=np.intp)
    changed = np.zeros(count, dtype=np.bool_)
    changed[[0, -1]] = True
    for values in (first, *others):
        changed[1:] |= values[1:] != values[:-1]
    return np.flatnonzero(changed)


def flagged_training(detector: Detector, timestamps: FloatArray, values: FloatArray) -> IntArray:
    """Indices of the training points the model flags, as the training plot counts them."""
    if not values.size:
        return np.arange(0, dtype=np.intp)
    return np.flatnonzero(detector.training_scores(values, timestamps) > detector.threshold)


def json_floats(array: FloatArray) -> list[float | None]:
    return [x if math.isfinite(x) else None for x in np.asarray(array, dtype=np.float64).tolist()]


def evenly(indices: IntArray, at_most: int) -> IntArray:
    """At most ``at_most`` of ``indices``, evenly spread, the first and last kept."""
    if indices.size <= at_most:
        return indices
    picks = np.unique(np.linspace(0, indices.size - 1, at_most).round().astype(np.intp))
    return indices[picks]


def training_part(
    timestamps: FloatArray, values: FloatArray, flagged: IntArray, notes: list[str]
) -> dict[str, Any]:
    """The training window reduced to the min and max of each bucket plus the flagged
    points (at most MAX_FLAGGED_SHOWN of them, evenly spread); ``flagged`` indexes the
    points kept."""
    shown_flags = evenly(flagged, MAX_FLAGGED_SHOWN)
    if shown_flags.size < flagged.size:
        notes.append(f"{flagged.size:,} training points flagged; {shown_flags.size:,} shown")
    keep = np.union1d(min_max_indices(values), shown_flags).astype(np.intp)
    return {
        "timestamps": json_floats(timestamps[keep]),
        "values": json_floats(values[keep]),
        "flagged": np.searchsorted(keep, shown_flags).tolist(),
        "points": int(values.size),
        "shown": int(keep.size),
    }


def band_part(band: Band, timestamps: FloatArray, notes: list[str]) -> dict[str, Any]:
    """The band where it changes, each change given twice (the value before and after it at
    the same timestamp), so a line drawn straight through the points traces the steps."""
    order = np.argsort(timestamps, kind="stable")
    ts, centre, half = timestamps[order], band.centre[order], band.half_width[order]
    changes = step_points(centre, half)
    if changes.size > MAX_BAND_CHANGES:
        changes = evenly(changes, MAX_BAND_CHANGES)
        notes.append(f"the band changes at more points than shown; {changes.size:,} shown")
    # change i > 0 comes as two points: the value held until it, then its own value
    at = np.empty(2 * changes.size - 1, dtype=np.intp)
    at[0], at[1::2], at[2::2] = changes[0], changes[1:] - 1, changes[1:]
    moments = np.empty_like(at)
    moments[0], moments[1::2], moments[2::2] = changes[0], changes[1:], changes[1:]
    times = ts[moments]
    return {
        "timestamps": json_floats(times),
        "lower": json_floats(centre[at] - half[at]),
        "upper": json_floats(centre[at] + half[at]),
        "center": json_floats(centre[at]),
    }


def recent_part(detector: Detector, timestamps: FloatArray, values: FloatArray) -> dict[str, Any]:
    """Recent points scored as continuing the training window: the pure ``score`` (it never
    moves a stateful detector's live state); anomalous above the threshold, as predict
    decides. The band at the same timestamps when the detector has one."""
    scores = detector.score(values, timestamps) if values.size else np.zeros(0)
    band = detector.band(timestamps) if values.size else None
    lower = upper = None
    if band is not None:
        centre, half = band
        lower, upper = json_floats(centre - half), json_floats(centre + half)
    return {
        "timestamps": json_floats(timestamps),
        "values": json_floats(values),
        "anomaly": (scores > detector.threshold).tolist(),
        "scores": json_floats(scores),
        "lower": lower,
        "upper": upper,
    }


def plot_data(
    *,
    series_id: str,
    version_label: str,
    detector: Detector,
    training: tuple[FloatArray, FloatArray] | None,
    recent: tuple[FloatArray, FloatArray],
    notes: list[str] | None = None,
) -> dict[str, Any]:
    """The plot-data document. ``training`` and ``recent``: (timestamps, values);
    ``training`` None when the data is not kept (the band is then drawn over the recent
    points); ``notes`` say why something is missing, and more are added here."""
    said = list(notes or [])
    band_over = training[0] if training is not None else recent[0]
    band = detector_band(detector, band_over)
    if band is None and band_over.size:
        said.append(f"the {detector.algorithm} detector has no band to draw")
    training_doc = None
    if training is not None:
        ts, vs = training
        training_doc = training_part(ts, vs, flagged_training(detector, ts, vs), said)
    if not recent[1].size:
        said.append("no points of the series after its training window in the history store")
    threshold = float(detector.threshold)
    return {
        "series_id": series_id,
        "version": version_label,
        "algorithm": detector.algorithm,
        "threshold": threshold if math.isfinite(threshold) else None,
        "training": training_doc,
        "band": None if band is None else band_part(band, band_over, said),
        "recent": recent_part(detector, *recent),
        "notes": said,
    }
