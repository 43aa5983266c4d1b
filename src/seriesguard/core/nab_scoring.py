"""NAB-style scoring of anomaly detections, written from the published method (Lavin & Ahmad,
"Evaluating Real-time Anomaly Detection Algorithms - the Numenta Anomaly Benchmark", 2015).

Pure: arrays and numbers in, numbers out. The method, as implemented here:

- Each labelled anomaly is a window of row indices ``[start_index, end_index]`` (inclusive).
  A detection is a row whose score is ``>= threshold``. Rows inside the probationary period (the
  first ``probation`` rows) are never scored: detections there are ignored, and a window that ends
  inside it is dropped, since no detector could be credited for it.
- Only the FIRST detection inside a window counts (a true positive); later ones in the same window
  are ignored. A window without a detection is a false negative and costs ``-fn``.
- Detections outside every window are false positives.
- Weights follow the scaled sigmoid ``sigma(y) = 2 / (1 + exp(5 y)) - 1`` of the detection's
  position ``y`` relative to a window's END, in units of that window's width (rows):
  inside a window ``y = -(end - i + 1) / width``, so ``y = -1`` on the first row (``sigma ~ 0.987``)
  and ``y`` near 0 on the last (``sigma ~ 0``); a TP weighs ``tp * sigma(y)``.
  After a window ``y = (i - end) / width`` of the preceding window, so an FP weighs
  ``fp * sigma(y)``: a little negative just after the window, ``-fp`` far from it. An FP before any
  window weighs the full ``-fp``.
- Normalised over a corpus: ``100 * (raw - null) / (perfect - null)``, where null never detects
  (``-fn`` per window) and perfect detects every window on its first row with no FP.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from seriesguard.core.errors import InvalidInput

# Probationary period: NAB's 15% of the file, at most 750 rows.
PROBATION_FRACTION = 0.15
PROBATION_MAX_ROWS = 750
# How many candidate thresholds the corpus sweep tries at most (quantiles of the pooled scores).
DEFAULT_CANDIDATES = 200


@dataclass(frozen=True, slots=True)
class Window:
    """A labelled anomaly window, inclusive row indices."""

    start_index: int
    end_index: int

    @property
    def width(self) -> int:
        return self.end_index - self.start_index + 1


@dataclass(frozen=True, slots=True)
class Profile:
    """An application profile: the weight of a true positive, a false positive, a missed window."""

    name: str
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True, slots=True)
class FileScore:
    """One file's raw score and counts, and the null and perfect raw scores it is normalised by."""

    raw: float
    tp: int
    fp: int
    fn: int
    raw_null: float
    raw_perfect: float


@dataclass(frozen=True, slots=True)
class ScoredFile:
    """A detector's per-row scores for one file, with that file's windows and probation."""

    name: str
    scores: NDArray[np.float64]
    windows: tuple[Window, ...]
    probation: int


@dataclass(frozen=True, slots=True)
class EventMetrics:
    """Event-level figures: windows detected vs detections outside windows."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True, slots=True)
class TunedThreshold:
    threshold: float
    score: float


def probation_rows(n: int) -> int:
    """Rows of NAB's probationary period for a file of ``n`` rows."""
    return min(PROBATION_MAX_ROWS, int(PROBATION_FRACTION * n))


def scaled_sigmoid(y: NDArray[np.float64] | float) -> NDArray[np.float64]:
    # Clip so exp never overflows; sigma is already -1 to machine precision beyond y = 8.
    z = np.clip(np.asarray(y, dtype=np.float64) * 5.0, -50.0, 50.0)
    return np.asarray(2.0 / (1.0 + np.exp(z)) - 1.0, dtype=np.float64)


def profiles_from_json(doc: Mapping[str, object]) -> dict[str, Profile]:
    """Profiles from NAB's ``config/profiles.json`` (``{name: {"CostMatrix": {...Weight}}}``)."""
    profiles: dict[str, Profile] = {}
    for name, body in doc.items():
        matrix = body.get("CostMatrix") if isinstance(body, Mapping) else None
        if not isinstance(matrix, Mapping):
            raise InvalidInput(
                "profile has no CostMatrix object", rule="nab_profile", loc=(name, "CostMatrix")
            )
        weights = [_weight(matrix, name=name, key=key) for key in ("tp", "fp", "fn")]
        profiles[name] = Profile(name, *weights)
    return profiles


def _weight(matrix: Mapping[str, object], *, name: str, key: str) -> float:
    value = matrix.get(f"{key}Weight")
    # bool is an int subclass; a JSON true is not a weight.
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise InvalidInput(
            f"{key}Weight must be a non-negative number",
            rule="nab_profile",
            loc=(name, "CostMatrix", f"{key}Weight"),
        )
    return float(value)


def validate_windows(windows: Sequence[Window], *, n: int) -> None:
    """Windows must lie inside the file, be sorted and not overlap (the scoring relies on it)."""
    previous_end = -1
    for k, window in enumerate(windows):
        if not 0 <= window.start_index <= window.end_index < n:
            raise InvalidInput(
                f"window [{window.start_index}, {window.end_index}] is outside rows 0..{n - 1}",
                rule="nab_window_range",
                loc=("windows", k),
            )
        if window.start_index <= previous_end:
            raise InvalidInput(
                "windows must be sorted and must not overlap",
                rule="nab_window_order",
                loc=("windows", k),
            )
        previous_end = window.end_index


def score_file(
    flags: Sequence[bool] | NDArray[np.bool_],
    windows: Sequence[Window],
    profile: Profile,
    probation: int,
) -> FileScore:
    """Raw NAB score of one file's detections (``flags[i]`` true = row ``i`` was flagged)."""
    flagged = np.asarray(flags, dtype=np.bool_)
    if flagged.ndim != 1:
        raise InvalidInput("flags must be one-dimensional", rule="nab_flags", loc=("flags",))
    validate_windows(windows, n=flagged.size)
    scored = [w for w in windows if w.end_index >= probation]
    detections = np.flatnonzero(flagged)
    detections = detections[detections >= probation]
    starts = np.array([w.start_index for w in scored], dtype=np.int64)
    ends = np.array([w.end_index for w in scored], dtype=np.int64)
    widths = (ends - starts + 1).astype(np.float64)

    tp_count, tp_raw = _true_positives(detections, starts=starts, ends=ends, widths=widths)
    fp_count, fp_raw = _false_positives(detections, starts=starts, ends=ends, widths=widths)
    fn_count = len(scored) - tp_count
    raw = profile.tp * tp_raw + profile.fp * fp_raw - profile.fn * fn_count
    perfect_tp = float(scaled_sigmoid(-1.0))
    return FileScore(
        raw=float(raw),
        tp=tp_count,
        fp=fp_count,
        fn=fn_count,
        raw_null=-profile.fn * len(scored),
        raw_perfect=profile.tp * perfect_tp * len(scored),
    )


def _window_of(
    detections: NDArray[np.intp], *, starts: NDArray[np.int64], ends: NDArray[np.int64]
) -> NDArray[np.intp]:
    """Index of the window holding each detection, -1 where it is in none."""
    if starts.size == 0:
        return np.full(detections.shape, -1, dtype=np.intp)
    k = np.searchsorted(starts, detections, side="right") - 1
    inside = (k >= 0) & (detections <= ends[np.maximum(k, 0)])
    return np.where(inside, k, -1).astype(np.intp)


def _true_positives(
    detections: NDArray[np.intp],
    *,
    starts: NDArray[np.int64],
    ends: NDArray[np.int64],
    widths: NDArray[np.float64],
) -> tuple[int, float]:
    k = _window_of(detections, starts=starts, ends=ends)
    hits = k >= 0
    # Detections are in row order, so np.unique's first occurrence is the window's first detection.
    windows_hit, first = np.unique(k[hits], return_index=True)
    rows = detections[hits][first]
    y = -(ends[windows_hit] - rows + 1) / widths[windows_hit]
    return int(windows_hit.size), float(scaled_sigmoid(y).sum())


def _false_positives(
    detections: NDArray[np.intp],
    *,
    starts: NDArray[np.int64],
    ends: NDArray[np.int64],
    widths: NDArray[np.float64],
) -> tuple[int, float]:
    rows = detections[_window_of(detections, starts=starts, ends=ends) < 0]
    if rows.size == 0:
        return 0, 0.0
    # The preceding window is the last one that ended before the row.
    previous = np.searchsorted(ends, rows, side="left") - 1
    after = previous >= 0
    weights = np.full(rows.shape, -1.0)
    if after.any():
        p = previous[after]
        weights[after] = scaled_sigmoid((rows[after] - ends[p]) / widths[p])
    return int(rows.size), float(weights.sum())


def normalised_score(scores: Sequence[FileScore]) -> float:
    """Corpus score, 0 = never detects, 100 = perfect."""
    raw = math.fsum(s.raw for s in scores)
    null = math.fsum(s.raw_null for s in scores)
    perfect = math.fsum(s.raw_perfect for s in scores)
    if perfect == null:
        raise InvalidInput(
            "the corpus has no scorable anomaly window", rule="nab_no_windows", loc=("files",)
        )
    return 100.0 * (raw - null) / (perfect - null)


def score_corpus(
    files: Sequence[ScoredFile], *, profile: Profile, threshold: float
) -> list[FileScore]:
    """Each file scored at one threshold (a row is a detection when its score >= threshold)."""
    return [score_file(f.scores >= threshold, f.windows, profile, f.probation) for f in files]


def corpus_score(files: Sequence[ScoredFile], *, profile: Profile, threshold: float) -> float:
    """Normalised corpus score at one threshold."""
    return normalised_score(score_corpus(files, profile=profile, threshold=threshold))


def event_metrics(scores: Sequence[FileScore]) -> EventMetrics:
    """Precision = TP windows / (TP windows + FP detections); recall = TP / (TP + FN) windows."""
    tp = sum(s.tp for s in scores)
    fp = sum(s.fp for s in scores)
    fn = sum(s.fn for s in scores)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return EventMetrics(precision=precision, recall=recall, f1=f1)


def candidate_thresholds(
    files: Sequence[ScoredFile], *, candidates: int = DEFAULT_CANDIDATES
) -> NDArray[np.float64]:
    """Thresholds worth trying, ascending: every distinct scored value (outside probation) when
    there are at most ``candidates``; otherwise ``candidates`` quantiles of the pooled scores,
    spaced geometrically towards the top, because a useful detector flags a tiny fraction of
    rows and the score changes fastest there. One value above the maximum is always added so
    that "never detect" is a candidate."""
    if candidates < 2:
        raise InvalidInput("candidates must be >= 2", rule="nab_candidates", loc=("candidates",))
    pooled = np.concatenate(
        [f.scores[f.probation :] for f in files] or [np.empty(0, dtype=np.float64)]
    )
    pooled = pooled[np.isfinite(pooled)]
    if pooled.size == 0:
        return np.array([np.inf])
    distinct = np.unique(pooled)
    if distinct.size > candidates:
        upper_tail = np.geomspace(1.0, 1.0 / pooled.size, candidates)
        distinct = np.unique(np.quantile(pooled, 1.0 - upper_tail, method="higher"))
    return np.append(distinct, np.nextafter(distinct[-1], np.inf))


def tune_threshold(
    files: Sequence[ScoredFile],
    *,
    profile: Profile,
    candidates: int = DEFAULT_CANDIDATES,
) -> TunedThreshold:
    """The threshold maximising the normalised corpus score for ``profile``.

    A grid sweep in two passes: first over :func:`candidate_thresholds`, then over up to
    ``candidates`` distinct scored values between the best grid point's neighbours (exact when the
    bracket holds fewer). Ties go to the higher threshold (fewer alarms). NAB tunes its threshold
    per profile over the whole corpus too, and says so on its scoreboard.
    """
    grid = candidate_thresholds(files, candidates=candidates)
    best, at = _sweep(files, profile=profile, thresholds=grid)
    low = grid[max(at - 1, 0)]
    high = grid[min(at + 1, grid.size - 1)]
    pooled = np.concatenate([f.scores[f.probation :] for f in files])
    inside = np.unique(pooled[(pooled > low) & (pooled < high)])
    if inside.size > candidates:
        inside = inside[np.linspace(0, inside.size - 1, candidates).astype(np.intp)]
    if inside.size:
        refined, _ = _sweep(files, profile=profile, thresholds=inside)
        if refined.score > best.score:
            best = refined
    return best


def _sweep(
    files: Sequence[ScoredFile], *, profile: Profile, thresholds: NDArray[np.float64]
) -> tuple[TunedThreshold, int]:
    best = TunedThreshold(threshold=math.inf, score=-math.inf)
    at = 0
    for k, threshold in enumerate(thresholds):
        score = corpus_score(files, profile=profile, threshold=float(threshold))
        if score >= best.score:
            best, at = TunedThreshold(threshold=float(threshold), score=score), k
    return best, at
