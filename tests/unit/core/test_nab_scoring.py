"""NAB scorer on hand-made cases: every expected number below is worked out by hand from the
method (sigma(y) = 2 / (1 + exp(5y)) - 1 = tanh(-5y / 2))."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seriesguard.core.errors import InvalidInput
from seriesguard.core.nab_scoring import (
    FileScore,
    Profile,
    ScoredFile,
    Window,
    corpus_score,
    event_metrics,
    normalised_score,
    probation_rows,
    profiles_from_json,
    scaled_sigmoid,
    score_file,
    tune_threshold,
)

STANDARD = Profile("standard", tp=1.0, fp=0.11, fn=1.0)
LOW_FP = Profile("reward_low_FP_rate", tp=1.0, fp=0.22, fn=1.0)
LOW_FN = Profile("reward_low_FN_rate", tp=1.0, fp=0.11, fn=2.0)
PROFILES = [STANDARD, LOW_FP, LOW_FN]

N = 100
WINDOW = Window(40, 49)  # 10 rows wide
SIGMA_FIRST_ROW = math.tanh(2.5)  # y = -1 on a window's first row
SIGMA_LAST_ROW = math.tanh(0.25)  # y = -1/10 on the last row of a 10-row window


def flags_at(*rows: int, n: int = N) -> np.ndarray:
    flags = np.zeros(n, dtype=bool)
    flags[list(rows)] = True
    return flags


# --- the sigmoid and profiles -------------------------------------------------------------


def test_scaled_sigmoid_matches_its_definition() -> None:
    ys = np.array([-1.0, -0.1, 0.0, 1.0, 100.0])
    expected = 2.0 / (1.0 + np.exp(5.0 * np.clip(ys, -50, 50))) - 1.0
    assert scaled_sigmoid(ys) == pytest.approx(expected)
    assert float(scaled_sigmoid(0.0)) == 0.0
    assert float(scaled_sigmoid(100.0)) == pytest.approx(-1.0)


def test_profiles_from_nab_json() -> None:
    doc = {
        "standard": {"CostMatrix": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11}},
        "reward_low_FN_rate": {"CostMatrix": {"tpWeight": 1, "fnWeight": 2.0, "fpWeight": 0.11}},
    }
    profiles = profiles_from_json(doc)
    assert profiles["standard"] == STANDARD
    assert profiles["reward_low_FN_rate"] == LOW_FN


@pytest.mark.parametrize(
    "body",
    [{}, {"CostMatrix": []}, {"CostMatrix": {"tpWeight": 1, "fpWeight": "x", "fnWeight": 1}}],
)
def test_malformed_profile_is_invalid_input(body: object) -> None:
    with pytest.raises(InvalidInput) as err:
        profiles_from_json({"p": body})
    assert err.value.rule == "nab_profile"
    assert err.value.loc[0] == "p"


def test_probation_is_15_percent_capped_at_750_rows() -> None:
    assert probation_rows(1000) == 150
    assert probation_rows(4032) == 604
    assert probation_rows(22_695) == 750


# --- one file by hand --------------------------------------------------------------------


def test_early_detection_scores_almost_one_true_positive() -> None:
    score = score_file(flags_at(40), [WINDOW], STANDARD, 0)
    assert (score.tp, score.fp, score.fn) == (1, 0, 0)
    assert score.raw == pytest.approx(SIGMA_FIRST_ROW)  # 0.98661
    assert normalised_score([score]) == pytest.approx(100.0)


def test_late_detection_scores_little() -> None:
    score = score_file(flags_at(49), [WINDOW], STANDARD, 0)
    assert (score.tp, score.fp, score.fn) == (1, 0, 0)
    assert score.raw == pytest.approx(SIGMA_LAST_ROW)  # 0.24492
    # 100 * (0.24492 + 1) / (0.98661 + 1) = 62.666
    assert normalised_score([score]) == pytest.approx(62.666, abs=1e-3)


def test_only_the_first_detection_in_a_window_counts() -> None:
    alone = score_file(flags_at(40), [WINDOW], STANDARD, 0)
    repeated = score_file(flags_at(40, 41, 45, 49), [WINDOW], STANDARD, 0)
    assert repeated == alone
    late_then_later = score_file(flags_at(49, 48), [WINDOW], STANDARD, 0)
    assert late_then_later.raw == pytest.approx(math.tanh(0.5))  # row 48: y = -2/10


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_false_positive_before_any_window_costs_full_fp_weight(profile: Profile) -> None:
    missed = score_file(flags_at(), [WINDOW], profile, 0)
    with_fp = score_file(flags_at(10), [WINDOW], profile, 0)
    assert missed.raw == pytest.approx(-profile.fn)
    assert (with_fp.fp, with_fp.fn) == (1, 1)
    assert with_fp.raw - missed.raw == pytest.approx(-profile.fp)


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_false_positive_after_a_window_is_weighted_by_distance(profile: Profile) -> None:
    base = score_file(flags_at(40), [WINDOW], profile, 0)
    near = score_file(flags_at(40, 50), [WINDOW], profile, 0)  # y = 1/10
    far = score_file(flags_at(40, 59), [WINDOW], profile, 0)  # y = 1
    assert near.raw - base.raw == pytest.approx(-profile.fp * math.tanh(0.25))
    assert far.raw - base.raw == pytest.approx(-profile.fp * math.tanh(2.5))
    assert far.fp == near.fp == 1


def test_false_positive_cost_differs_per_profile() -> None:
    costs = {
        p.name: normalised_score([score_file(flags_at(40, 10), [WINDOW], p, 0)]) for p in PROFILES
    }
    # standard: 100 * (0.98661 - 0.11 + 1) / 1.98661 = 94.463; low FP: 88.926; low FN:
    # 100 * (0.98661 - 0.11 + 2) / 2.98661 = 96.317.
    assert costs["standard"] == pytest.approx(94.463, abs=1e-3)
    assert costs["reward_low_FP_rate"] == pytest.approx(88.926, abs=1e-3)
    assert costs["reward_low_FN_rate"] == pytest.approx(96.317, abs=1e-3)


def test_probationary_detections_are_ignored() -> None:
    with_probation = score_file(flags_at(5, 40), [WINDOW], STANDARD, 10)
    assert with_probation == score_file(flags_at(40), [WINDOW], STANDARD, 10)
    assert with_probation.fp == 0
    without = score_file(flags_at(5, 40), [WINDOW], STANDARD, 0)
    assert without.fp == 1


def test_window_ending_in_probation_is_not_scored() -> None:
    score = score_file(flags_at(), [Window(2, 8), WINDOW], STANDARD, 10)
    assert score.fn == 1
    assert score.raw_null == pytest.approx(-1.0)


def test_second_window_false_positive_uses_the_preceding_window() -> None:
    windows = [Window(10, 19), Window(60, 79)]  # widths 10 and 20
    score = score_file(flags_at(10, 60, 70 + 10 + 9), windows, STANDARD, 0)  # FP at row 89
    expected = 2 * SIGMA_FIRST_ROW - 0.11 * math.tanh(2.5 * 10 / 20)
    assert score.raw == pytest.approx(expected)


@pytest.mark.parametrize(
    "windows", [[Window(5, 2)], [Window(0, N)], [Window(10, 20), Window(20, 30)]]
)
def test_bad_windows_are_invalid_input(windows: list[Window]) -> None:
    with pytest.raises(InvalidInput) as err:
        score_file(flags_at(), windows, STANDARD, 0)
    assert err.value.rule in {"nab_window_range", "nab_window_order"}


# --- corpus ------------------------------------------------------------------------------


def corpus() -> list[tuple[int, list[Window]]]:
    return [(200, [Window(50, 59), Window(120, 139)]), (150, [Window(100, 104)]), (100, [])]


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p.name)
def test_perfect_detector_scores_100_and_null_scores_0(profile: Profile) -> None:
    perfect = [
        score_file(flags_at(*(w.start_index for w in ws), n=n), ws, profile, 20)
        for n, ws in corpus()
    ]
    null = [score_file(flags_at(n=n), ws, profile, 20) for n, ws in corpus()]
    assert normalised_score(perfect) == pytest.approx(100.0)
    assert normalised_score(null) == pytest.approx(0.0)


def test_corpus_without_windows_cannot_be_normalised() -> None:
    with pytest.raises(InvalidInput) as err:
        normalised_score([score_file(flags_at(5), [], STANDARD, 0)])
    assert err.value.rule == "nab_no_windows"


def scored_corpus() -> list[ScoredFile]:
    """Scores 0.9 on each window's first row, 0.5 on scattered rows outside, 0.1 elsewhere:
    the best threshold is in (0.5, 0.9]."""
    files = []
    for k, (n, ws) in enumerate(corpus()):
        scores = np.full(n, 0.1)
        scores[[w.start_index for w in ws]] = 0.9
        scores[np.arange(25, 45, 4)] = 0.5
        files.append(ScoredFile(f"f{k}", scores, tuple(ws), 20))
    return files


def test_tuned_threshold_finds_the_best_cut() -> None:
    files = scored_corpus()
    tuned = tune_threshold(files, profile=STANDARD)
    assert 0.5 < tuned.threshold <= 0.9
    assert tuned.score == pytest.approx(100.0)
    assert corpus_score(files, profile=STANDARD, threshold=0.5) < tuned.score
    assert corpus_score(files, profile=STANDARD, threshold=0.95) == pytest.approx(0.0)


def test_tuned_threshold_with_a_coarse_grid_still_beats_null() -> None:
    rng = np.random.default_rng(3)
    files = [
        ScoredFile(f.name, f.scores + rng.uniform(0, 0.01, f.scores.size), f.windows, 20)
        for f in scored_corpus()
    ]
    tuned = tune_threshold(files, profile=LOW_FP, candidates=50)
    assert tuned.score > 90.0


def test_event_metrics_count_windows_and_detections() -> None:
    scores = [
        FileScore(raw=0.0, tp=3, fp=1, fn=1, raw_null=-4.0, raw_perfect=4.0),
        FileScore(raw=0.0, tp=1, fp=3, fn=0, raw_null=-1.0, raw_perfect=1.0),
    ]
    metrics = event_metrics(scores)
    assert metrics.precision == pytest.approx(4 / 8)
    assert metrics.recall == pytest.approx(4 / 5)
    assert metrics.f1 == pytest.approx(2 * 0.5 * 0.8 / 1.3)
    assert event_metrics([]).f1 == 0.0
