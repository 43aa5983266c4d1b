"""Drift statistics: is a series still the one its model was trained on?

* Data drift: population stability index (PSI) of the recent inputs, binned on the deciles
  of the training window, against the training histogram (``ReferenceSummary``).
* Concept drift: two-proportion z-test of the recent anomaly rate against the share of
  training points the model itself flagged.
* Precision drop: one-sided two-proportion z-test of labelled precision, earlier vs recent.

Every scalar test returns a :class:`Verdict` carrying its evidence. The ``*_many`` forms judge
the whole fleet (hundreds of thousands of series) in one numpy pass and agree with the scalar
forms row by row. Pure: no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from seriesguard.core.monitoring import ReferenceSummary

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

DRIFT = "drift"
STABLE = "stable"
INSUFFICIENT_DATA = "insufficient_data"
NO_REFERENCE = "no_reference"

# Pseudo-count added to every bin of both histograms before taking proportions (add-1/2,
# Jeffreys): it keeps ln(c/r) finite when a bin is empty on either side, and unlike a fixed
# floor on proportions it weighs an empty bin by how much data it is empty in: ten empty
# bins in 500 inputs are weaker evidence than in 100,000. With the 500+ inputs and 10,000+
# training points a verdict needs, it moves a non-empty bin's proportion by at most 0.1 %.
PSI_PSEUDO_COUNT = 0.5
_SQRT2 = math.sqrt(2.0)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One drift test's answer and the evidence it rests on."""

    detected: bool | None  # None = no verdict (insufficient data or no reference)
    statistic: float | None  # PSI, z, or precision drop, depending on the test
    threshold: float  # the threshold / alpha the statistic was judged by
    sample_size: int  # recent observations the verdict rests on
    reference_size: int  # training points, or earlier labelled predictions
    reason: str  # drift | stable | insufficient_data | no_reference
    details: dict[str, float | int | None] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        """Flat: the details sit beside the fixed fields (their names never collide)."""
        return {
            **self.details,
            "detected": self.detected,
            "statistic": self.statistic,
            "threshold": self.threshold,
            "sample_size": self.sample_size,
            "reference_size": self.reference_size,
            "reason": self.reason,
        }


def _judged(detected: bool) -> str:
    return DRIFT if detected else STABLE


# --- data drift -------------------------------------------------------------------------


def psi(reference_counts: Sequence[int], current_counts: Sequence[int]) -> float:
    """Population stability index, sum over bins of (c_i - r_i) * ln(c_i / r_i), where r_i and
    c_i are the bin proportions after adding ``PSI_PSEUDO_COUNT`` to every count.

    ``current_counts`` may be longer than the reference (it is stored ``REFERENCE_BINS``
    wide): only its first ``len(reference_counts)`` bins are used, the rest are always zero
    because inputs are binned against the reference's own edges.
    """
    k = len(reference_counts)
    if k == 0:
        raise ValueError("a reference histogram has at least one bin")
    if len(current_counts) < k:
        raise ValueError(f"current counts have {len(current_counts)} bins, the reference {k}")
    ref = [r + PSI_PSEUDO_COUNT for r in reference_counts]
    cur = [c + PSI_PSEUDO_COUNT for c in current_counts[:k]]
    ref_total, cur_total = sum(ref), sum(cur)
    total = 0.0
    for r_count, c_count in zip(ref, cur, strict=True):
        r, c = r_count / ref_total, c_count / cur_total
        total += (c - r) * math.log(c / r)
    return total


def data_drift(
    reference: ReferenceSummary | None,
    current_counts: Sequence[int],
    *,
    threshold: float = 0.2,
    min_samples: int = 500,
) -> Verdict:
    """PSI of the recent inputs against the training histogram; drift iff PSI > threshold."""
    k = len(reference.counts) if reference is not None else len(current_counts)
    n = int(sum(current_counts[:k]))
    details: dict[str, float | int | None] = {"min_samples": min_samples}
    if reference is None:
        return Verdict(None, None, threshold, n, 0, NO_REFERENCE, details)
    if n < max(min_samples, 1):
        return Verdict(None, None, threshold, n, reference.n_points, INSUFFICIENT_DATA, details)
    value = psi(reference.counts, current_counts)
    detected = value > threshold
    details["bins"] = k
    return Verdict(detected, value, threshold, n, reference.n_points, _judged(detected), details)


def psi_many(
    reference_counts: npt.ArrayLike, current_counts: npt.ArrayLike, valid_bins: npt.ArrayLike
) -> FloatArray:
    """PSI of every row; bins at or beyond ``valid_bins[i]`` of row ``i`` are ignored.

    A row with ``valid_bins == 0`` (no reference) is NaN. Same arithmetic as :func:`psi`.
    """
    ref = np.asarray(reference_counts, dtype=np.float64)
    cur = np.asarray(current_counts, dtype=np.float64)
    valid = np.asarray(valid_bins, dtype=np.int64)
    if ref.ndim != 2 or ref.shape != cur.shape or valid.shape != ref.shape[:1]:
        raise ValueError(
            f"psi_many needs (m, k) counts and (m,) valid_bins; got {ref.shape}, {cur.shape}, "
            f"{valid.shape}"
        )
    if ((valid < 0) | (valid > ref.shape[1])).any():
        raise ValueError(f"valid_bins must lie in 0..{ref.shape[1]}")
    used = np.arange(ref.shape[1]) < valid[:, None]
    r = _proportions(ref, used)
    c = _proportions(cur, used)
    terms = np.where(used, (c - r) * np.log(c / r), 0.0)
    result: FloatArray = terms.sum(axis=1)
    result[valid == 0] = np.nan
    return result


def _proportions(counts: FloatArray, used: BoolArray) -> FloatArray:
    """Smoothed bin proportions of the used bins; unused bins are 1 so their log is 0."""
    smoothed = np.where(used, counts + PSI_PSEUDO_COUNT, 0.0)
    totals = smoothed.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = smoothed / totals
    out: FloatArray = np.where(used, shares, 1.0)
    return out


# --- concept drift: anomaly rate ----------------------------------------------------------


def _two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / _SQRT2)


def _pooled_z(rate_a: float, n_a: float, rate_b: float, n_b: float) -> float:
    """z of rate_b - rate_a under the pooled null; 0 when the pooled rate is 0 or 1 (both
    samples all-negative or all-positive: nothing differs, and the variance is 0)."""
    pooled = (rate_a * n_a + rate_b * n_b) / (n_a + n_b)
    variance = pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)
    if variance <= 0.0:
        return 0.0
    return (rate_b - rate_a) / math.sqrt(variance)


def anomaly_rate_change(
    *,
    baseline_rate: float,
    baseline_n: int,
    anomalies: int,
    n: int,
    alpha: float = 0.01,
    min_change: float = 0.2,
    min_samples: int = 500,
) -> Verdict:
    """Two-sided pooled two-proportion z-test of the recent anomaly rate against the baseline.

    Drift iff ``n >= min_samples``, ``p < alpha`` and the relative change
    ``|current - baseline| / baseline >= min_change`` (a baseline of 0 has no relative change:
    a significant test is enough). ``statistic`` is z (positive: more anomalies than in
    training). No reference when ``baseline_n`` is 0.
    """
    _check_rate_inputs(baseline_rate, baseline_n, anomalies, n)
    details: dict[str, float | int | None] = {
        "baseline_rate": baseline_rate,
        "current_rate": anomalies / n if n else None,
        "min_samples": min_samples,
        "min_change": min_change,
    }
    if baseline_n == 0:
        return Verdict(None, None, alpha, n, 0, NO_REFERENCE, details)
    if n < max(min_samples, 1):
        return Verdict(None, None, alpha, n, baseline_n, INSUFFICIENT_DATA, details)
    current_rate = anomalies / n
    z = _pooled_z(baseline_rate, baseline_n, current_rate, n)
    p_value = _two_sided_p(z)
    relative = abs(current_rate - baseline_rate) / baseline_rate if baseline_rate > 0 else None
    if relative is not None and not math.isfinite(relative):
        relative = None  # a baseline so small the ratio overflows: as good as no baseline
    detected = p_value < alpha and (relative is None or relative >= min_change)
    details.update(p_value=p_value, relative_change=relative)
    return Verdict(detected, z, alpha, n, baseline_n, _judged(detected), details)


def _check_rate_inputs(baseline_rate: float, baseline_n: int, anomalies: int, n: int) -> None:
    if not 0.0 <= baseline_rate <= 1.0:
        raise ValueError(f"baseline_rate must lie in [0, 1], got {baseline_rate}")
    if baseline_n < 0 or n < 0:
        raise ValueError(f"sample sizes must be >= 0, got baseline_n={baseline_n}, n={n}")
    if not 0 <= anomalies <= n:
        raise ValueError(f"anomalies must lie in 0..n={n}, got {anomalies}")


def anomaly_rate_change_many(
    baseline_rate: npt.ArrayLike,
    baseline_n: npt.ArrayLike,
    anomalies: npt.ArrayLike,
    n: npt.ArrayLike,
    *,
    alpha: float = 0.01,
    min_change: float = 0.2,
    min_samples: int = 500,
) -> tuple[FloatArray, FloatArray, BoolArray]:
    """:func:`anomaly_rate_change` of every row at once: ``(z, p_value, detected)``.

    Rows without a verdict (``baseline_n == 0`` or ``n < min_samples``) have z and p NaN and
    are not detected. Invalid rows raise ValueError naming the first one.
    """
    rate0 = np.asarray(baseline_rate, dtype=np.float64)
    n0 = np.asarray(baseline_n, dtype=np.float64)
    hits = np.asarray(anomalies, dtype=np.float64)
    n1 = np.asarray(n, dtype=np.float64)
    _check_rate_arrays(rate0, n0, hits, n1)
    judged = (n0 > 0) & (n1 >= max(min_samples, 1))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        rate1 = hits / n1
        pooled = (rate0 * n0 + rate1 * n1) / (n0 + n1)  # as _pooled_z, to the last bit
        variance = pooled * (1.0 - pooled) * (1.0 / n0 + 1.0 / n1)
        z = np.where(variance > 0.0, (rate1 - rate0) / np.sqrt(variance), 0.0)
        relative = np.abs(rate1 - rate0) / rate0
    p_value = _erfc(np.abs(z) / _SQRT2)
    big_enough = (rate0 == 0.0) | (relative >= min_change)
    detected: BoolArray = judged & (p_value < alpha) & big_enough
    z = np.where(judged, z, np.nan)
    p_value = np.where(judged, p_value, np.nan)
    return z, p_value, detected


def _check_rate_arrays(rate0: FloatArray, n0: FloatArray, hits: FloatArray, n1: FloatArray) -> None:
    if not rate0.shape == n0.shape == hits.shape == n1.shape or rate0.ndim != 1:
        raise ValueError("anomaly_rate_change_many needs four arrays of one shape (m,)")
    bad = ~((rate0 >= 0) & (rate0 <= 1) & (n0 >= 0) & (n1 >= 0) & (hits >= 0) & (hits <= n1))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"row {row}: baseline_rate {rate0[row]} must lie in [0, 1], sizes be >= 0 and "
            f"anomalies ({hits[row]}) lie in 0..n ({n1[row]})"
        )


_vector_erfc = np.frompyfunc(math.erfc, 1, 1)


def _erfc(x: FloatArray) -> FloatArray:
    """Complementary error function, elementwise (numpy has none; scipy is not a dependency).

    ``math.erfc`` per element keeps the fleet check bit-identical to the scalar test; it is
    the one per-row call, about 50 ns each.
    """
    out: FloatArray = np.asarray(_vector_erfc(x), dtype=np.float64)
    return out


# --- precision drop -----------------------------------------------------------------------


def precision_drop(
    *,
    baseline_tp: int,
    baseline_fp: int,
    tp: int,
    fp: int,
    alpha: float = 0.01,
    min_drop: float = 0.1,
    min_samples: int = 30,
) -> Verdict:
    """One-sided pooled two-proportion z-test that precision fell from an earlier window.

    Drift iff both windows have ``min_samples`` flagged-and-labelled predictions, the drop
    ``baseline_precision - current_precision >= min_drop`` and ``p < alpha``. ``statistic``
    is the drop. No reference when the earlier window has no labelled flag at all.
    """
    for name, value in (("baseline_tp", baseline_tp), ("baseline_fp", baseline_fp)):
        if value < 0:
            raise ValueError(f"{name} must be >= 0, got {value}")
    if tp < 0 or fp < 0:
        raise ValueError(f"tp and fp must be >= 0, got tp={tp}, fp={fp}")
    n0, n1 = baseline_tp + baseline_fp, tp + fp
    details: dict[str, float | int | None] = {
        "baseline_precision": baseline_tp / n0 if n0 else None,
        "current_precision": tp / n1 if n1 else None,
        "min_samples": min_samples,
        "min_drop": min_drop,
    }
    if n0 == 0:
        return Verdict(None, None, alpha, n1, 0, NO_REFERENCE, details)
    if n0 < min_samples or n1 < max(min_samples, 1):
        return Verdict(None, None, alpha, n1, n0, INSUFFICIENT_DATA, details)
    before, now = baseline_tp / n0, tp / n1
    z = -_pooled_z(before, n0, now, n1)  # positive when precision fell
    p_value = 0.5 * math.erfc(z / _SQRT2)
    drop = before - now
    detected = drop >= min_drop and p_value < alpha
    details.update(p_value=p_value, z=z)
    return Verdict(detected, drop, alpha, n1, n0, _judged(detected), details)
