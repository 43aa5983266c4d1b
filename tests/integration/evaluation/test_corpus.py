"""The NAB corpus reader on the real corpus in ../shared/datasets/nab, and the scorer over it."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from seriesguard.core.errors import InvalidInput, NotFound
from seriesguard.core.nab_scoring import ScoredFile, corpus_score, tune_threshold
from seriesguard.evaluation import NabCorpus, probation_rows

pytestmark = pytest.mark.integration

NAB_ROOT = (Path(__file__).parents[3] / ".." / "shared" / "datasets" / "nab").resolve()
needs_corpus = pytest.mark.skipif(
    not (NAB_ROOT / "data").is_dir(),
    reason=f"the NAB corpus is not at {NAB_ROOT} (it lives outside the repo, never copied in)",
)


@pytest.fixture(scope="module")
def corpus() -> NabCorpus:
    return NabCorpus(NAB_ROOT)


@needs_corpus
def test_reads_all_58_files_with_windows_inside(corpus: NabCorpus) -> None:
    files = corpus.files()
    assert len(files) == 58
    assert len({f.name for f in files}) == 58
    assert sum(len(f.windows) for f in files) == 116
    for f in files:
        n = f.timestamps.size
        assert n == f.values.size > 0, f.name
        assert f.probation == probation_rows(n)
        assert np.all(np.diff(f.timestamps) >= 0), f.name
        previous_end = -1
        for w in f.windows:
            assert previous_end < w.start_index <= w.end_index < n, f.name
            previous_end = w.end_index


@needs_corpus
def test_timestamps_are_increasing_apart_from_repeats_in_the_source(corpus: NabCorpus) -> None:
    for f in corpus.files():
        steps = np.diff(f.timestamps)
        # A handful of repeated timestamps exist in NAB's own files; they are kept as rows.
        assert np.count_nonzero(steps == 0) <= 12, f.name


@needs_corpus
def test_window_rows_are_the_rows_inside_the_label_timestamps(corpus: NabCorpus) -> None:
    labels = json.loads((NAB_ROOT / "labels" / "combined_windows.json").read_text())
    f = corpus.file("realKnownCause/nyc_taxi.csv")
    assert f.timestamps[0] == np.datetime64("2014-07-01T00:00:00", "s").astype(np.int64)
    assert len(f.windows) == len(labels[f.name]) == 5
    for w, (start, end) in zip(f.windows, labels[f.name], strict=True):
        start_s, end_s = (np.datetime64(t, "us").astype(np.int64) / 1e6 for t in (start, end))
        assert start_s <= f.timestamps[w.start_index] and f.timestamps[w.start_index - 1] < start_s
        assert f.timestamps[w.end_index] <= end_s < f.timestamps[w.end_index + 1]


@needs_corpus
def test_profiles_are_nab_three(corpus: NabCorpus) -> None:
    profiles = corpus.profiles()
    assert set(profiles) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    assert profiles["standard"].fp == pytest.approx(0.11)
    assert profiles["reward_low_FP_rate"].fp == pytest.approx(0.22)
    assert profiles["reward_low_FN_rate"].fn == pytest.approx(2.0)


@needs_corpus
def test_oracle_scores_100_and_silence_0_on_the_corpus(corpus: NabCorpus) -> None:
    oracle = []
    for f in corpus.files():
        scores = np.zeros(f.values.size)
        scores[[w.start_index for w in f.windows]] = 1.0
        oracle.append(ScoredFile(f.name, scores, tuple(f.windows), f.probation))
    for profile in corpus.profiles().values():
        assert corpus_score(oracle, profile=profile, threshold=0.5) == pytest.approx(100.0)
        assert corpus_score(oracle, profile=profile, threshold=2.0) == pytest.approx(0.0)
        assert tune_threshold(oracle, profile=profile).score == pytest.approx(100.0)


def write_corpus(root: Path, *, rows: list[str], windows: str = '{"g/a.csv": []}') -> None:
    (root / "data" / "g").mkdir(parents=True)
    (root / "labels").mkdir()
    body = "\n".join(["timestamp,value", *rows]) + "\n"
    (root / "data" / "g" / "a.csv.gz").write_bytes(gzip.compress(body.encode()))
    (root / "labels" / "combined_windows.json").write_text(windows)


def test_small_corpus_maps_label_windows_to_rows(tmp_path: Path) -> None:
    rows = [f"2020-01-01 00:0{m}:00,{m}.5" for m in range(6)]
    write_corpus(
        tmp_path,
        rows=rows,
        windows='{"g/a.csv": [["2020-01-01 00:01:30.000000", "2020-01-01 00:04:00.000000"]]}',
    )
    [f] = NabCorpus(tmp_path).files()
    assert f.name == "g/a.csv"
    assert [(w.start_index, w.end_index) for w in f.windows] == [(2, 4)]
    assert f.values.tolist() == [0.5, 1.5, 2.5, 3.5, 4.5, 5.5]
    assert f.timestamps[1] - f.timestamps[0] == 60.0


def test_missing_corpus_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as err:
        NabCorpus(tmp_path / "nowhere").files()
    assert err.value.rule == "nab_corpus"


@pytest.mark.parametrize(
    ("rows", "windows"),
    [
        (["2020-01-01 00:00:00,abc"], '{"g/a.csv": []}'),
        (["not a time,1"], '{"g/a.csv": []}'),
        (["2020-01-01 00:00:00,1"], "{}"),
        (["2020-01-01 00:00:00,1"], '{"g/a.csv": [["2021-01-01 00:00:00", "2021-01-02"]]}'),
    ],
    ids=["bad value", "bad timestamp", "no label entry", "window holds no row"],
)
def test_malformed_corpus_is_invalid_input(tmp_path: Path, rows: list[str], windows: str) -> None:
    write_corpus(tmp_path, rows=rows, windows=windows)
    with pytest.raises(InvalidInput) as err:
        NabCorpus(tmp_path).files()
    assert err.value.rule in {"nab_file", "nab_labels"}
    assert err.value.loc[0] == "g/a.csv"
