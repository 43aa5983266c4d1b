"""Runs detectors over the NAB corpus the way the platform would run them in production.

Per file and detector: train on NAB's probationary rows through the real training path
(:func:`~seriesguard.core.validation.validate_training_data`, then the detector's ``fit``), then
score every later row one point at a time through the predictor's scorer
(:func:`~seriesguard.serving.scorer.production_scorer`), as live traffic would arrive. The raw
scores are then handed to the pure NAB scorer: per profile, one threshold is tuned over the
whole corpus (as NAB's scoreboard does), and the corpus score and event figures are read there.
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from seriesguard.core.detectors import detector_class, normalized_score
from seriesguard.core.errors import InvalidInput
from seriesguard.core.nab_scoring import (
    Profile,
    ScoredFile,
    corpus_score,
    event_metrics,
    score_corpus,
    tune_threshold,
)
from seriesguard.core.validation import PointLimits, validate_training_data
from seriesguard.evaluation.corpus import NabCorpus, NabFile
from seriesguard.evaluation.variants import Variant
from seriesguard.serving.scorer import Scorer, production_scorer

# NAB's profile keys -> the short names the report and its JSON use.
PROFILE_NAMES = {
    "standard": "standard",
    "reward_low_FP_rate": "low_fp",
    "reward_low_FN_rate": "low_fn",
}
# A probationary period of a file is small (15%, <= 750 rows): the seed's 10,000-point minimum
# would reject every file, so the evaluation only asks for enough points to have a spread.
MIN_TRAINING_POINTS = 2
# A row that was never scored (probation, or a file whose training window was refused).
NOT_SCORED = -math.inf

Progress = Callable[[str, str, int, int], None]


@dataclass(frozen=True, slots=True)
class ProfileResult:
    threshold: float
    score: float


@dataclass(frozen=True, slots=True)
class DetectorResult:
    """One detector's figures over the corpus. Event figures are at the standard threshold;
    ``seconds`` is training and point-by-point scoring (threshold tuning excluded)."""

    algorithm: str
    profiles: dict[str, ProfileResult]
    precision: float
    recall: float
    f1: float
    seconds: float
    refused: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evaluation:
    files: list[str]
    rows: int
    windows: int
    repeated_timestamps_dropped: int
    results: list[DetectorResult]
    seconds: float
    retraining: Retraining | None = None


def select_files(corpus: NabCorpus, *, pattern: str | None) -> list[NabFile]:
    """The corpus files whose NAB key matches the glob ``pattern`` (all when None)."""
    files = corpus.files()
    if pattern is not None:
        files = [f for f in files if fnmatch.fnmatch(f.name, pattern)]
    if not files:
        raise InvalidInput(
            f"no NAB file matches {pattern!r}", rule="nab_no_files", loc=("option", "files")
        )
    return files


def first_of_repeats(timestamps: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Mask keeping the first row of each run of repeated timestamps: training wants strictly
    increasing time, and NAB's files carry a few repeats."""
    keep = np.ones(timestamps.size, dtype=np.bool_)
    keep[1:] = np.diff(timestamps) > 0
    return keep


@dataclass(frozen=True, slots=True)
class Retraining:
    """Refit every ``every_rows`` scored rows on the trailing ``window_rows`` rows, as the
    weekly retraining job refits a series on its recent history."""

    every_rows: int
    window_rows: int

    def __post_init__(self) -> None:
        if self.every_rows < 1 or self.window_rows < MIN_TRAINING_POINTS:
            raise InvalidInput(
                f"retraining needs every_rows >= 1 and window_rows >= {MIN_TRAINING_POINTS}",
                rule="retrain_rows",
                loc=("option", "retrain-every-rows"),
            )


def fit_on(
    nab_file: NabFile,
    rows: slice,
    *,
    algorithm: str,
    max_points: int,
    hyperparameters: Mapping[str, Any],
) -> Scorer:
    """The production scorer of a detector trained on ``rows`` through the training checks."""
    ts = nab_file.timestamps[rows]
    keep = first_of_repeats(ts)
    data = validate_training_data(
        ts[keep],
        nab_file.values[rows][keep],
        limits=PointLimits(min_points=MIN_TRAINING_POINTS, max_points=max_points),
    )
    detector = detector_class(algorithm).fit(data.values, data.timestamps, hyperparameters)
    return production_scorer(
        detector, series_id=nab_file.name, version=1, origin="catalog", loaded_from="evaluation"
    )


def score_nab_file(
    nab_file: NabFile,
    *,
    algorithm: str,
    max_points: int,
    hyperparameters: Mapping[str, Any],
    retraining: Retraining | None = None,
) -> ScoredFile:
    """Train on the probationary rows, score the rest point by point. A training window the
    platform would refuse (e.g. a constant series) raises InvalidInput, as a training request;
    a refused REtraining keeps the model in service, as the weekly job does."""
    probation = nab_file.probation
    refit = partial(
        fit_on,
        nab_file,
        algorithm=algorithm,
        max_points=max_points,
        hyperparameters=hyperparameters,
    )
    scorer = refit(slice(0, probation))
    n = nab_file.values.size
    scores = np.full(n, NOT_SCORED, dtype=np.float64)
    values, timestamps = nab_file.values, nab_file.timestamps
    for i in range(probation, n):
        if _retrain_due(retraining, row=i, probation=probation):
            assert retraining is not None  # for mypy: _retrain_due checked it
            with suppress(InvalidInput):
                scorer = refit(slice(max(0, i - retraining.window_rows), i))
        _, raw = scorer.score_one(float(values[i]), float(timestamps[i]))
        # Normalised (0.5 at the model's own threshold): one corpus-wide threshold then means
        # the same on every file, as it would on every series of a fleet.
        scores[i] = normalized_score(raw, scorer.detector.threshold)
    return ScoredFile(nab_file.name, scores, tuple(nab_file.windows), probation)


def _retrain_due(retraining: Retraining | None, *, row: int, probation: int) -> bool:
    if retraining is None or row == probation:
        return False
    return (row - probation) % retraining.every_rows == 0


def evaluate_detector(
    files: Sequence[NabFile],
    *,
    variant: Variant,
    profiles: Mapping[str, Profile],
    max_points: int,
    retraining: Retraining | None = None,
    progress: Progress | None = None,
) -> DetectorResult:
    started = time.perf_counter()
    scored: list[ScoredFile] = []
    refused: dict[str, str] = {}
    for k, nab_file in enumerate(files, start=1):
        try:
            scored.append(
                score_nab_file(
                    nab_file,
                    algorithm=variant.algorithm,
                    max_points=max_points,
                    hyperparameters=variant.hyperparameters,
                    retraining=retraining,
                )
            )
        except InvalidInput as exc:
            # The platform would refuse to train this series: it never alarms, as NAB's null
            # detector, and the report lists it.
            refused[nab_file.name] = f"{exc.rule}: {exc}"
            never = np.full(nab_file.values.size, NOT_SCORED, dtype=np.float64)
            scored.append(
                ScoredFile(nab_file.name, never, tuple(nab_file.windows), nab_file.probation)
            )
        if progress is not None:
            progress(variant.label, nab_file.name, k, len(files))
    return _figures(
        scored,
        algorithm=variant.label,
        profiles=profiles,
        seconds=time.perf_counter() - started,
        refused=refused,
    )


def _figures(
    scored: Sequence[ScoredFile],
    *,
    algorithm: str,
    profiles: Mapping[str, Profile],
    seconds: float,
    refused: dict[str, str],
) -> DetectorResult:
    results: dict[str, ProfileResult] = {}
    for key, profile in profiles.items():
        tuned = tune_threshold(scored, profile=profile)
        results[PROFILE_NAMES.get(key, key)] = ProfileResult(tuned.threshold, tuned.score)
    # Event figures at the standard profile's threshold: the operating point the scoreboard uses.
    standard = profiles.get("standard") or next(iter(profiles.values()))
    at = results[PROFILE_NAMES.get(standard.name, standard.name)].threshold
    events = event_metrics(score_corpus(scored, profile=standard, threshold=at))
    return DetectorResult(
        algorithm=algorithm,
        profiles=results,
        precision=events.precision,
        recall=events.recall,
        f1=events.f1,
        seconds=seconds,
        refused=refused,
    )


def evaluate(
    corpus: NabCorpus,
    *,
    variants: Sequence[Variant],
    max_points: int,
    pattern: str | None = None,
    retraining: Retraining | None = None,
    progress: Progress | None = None,
) -> Evaluation:
    """Every detector of ``variants`` over the corpus files matching ``pattern``."""
    files = select_files(corpus, pattern=pattern)
    profiles = corpus.profiles()
    started = time.perf_counter()
    results = [
        evaluate_detector(
            files,
            variant=variant,
            profiles=profiles,
            max_points=max_points,
            retraining=retraining,
            progress=progress,
        )
        for variant in variants
    ]
    return Evaluation(
        files=[f.name for f in files],
        rows=sum(f.values.size for f in files),
        windows=sum(len(f.windows) for f in files),
        repeated_timestamps_dropped=sum(
            int(np.count_nonzero(~first_of_repeats(f.timestamps[: f.probation]))) for f in files
        ),
        results=results,
        seconds=time.perf_counter() - started,
        retraining=retraining,
    )


def oracle_score(files: Sequence[NabFile], *, profile: Profile) -> float:
    """Sanity figure: a detector firing on each window's first scorable row; 100 when no window
    starts inside the probationary period."""
    scored = []
    for f in files:
        scores = np.zeros(f.values.size, dtype=np.float64)
        for w in f.windows:
            scores[max(w.start_index, f.probation)] = 1.0
        scored.append(ScoredFile(f.name, scores, tuple(f.windows), f.probation))
    return corpus_score(scored, profile=profile, threshold=1.0)
