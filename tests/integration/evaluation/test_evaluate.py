"""``seriesguard evaluate`` end to end on a small subset of the real NAB corpus."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from seriesguard.cli import app
from seriesguard.core.errors import InvalidInput
from seriesguard.core.nab_scoring import probation_rows
from seriesguard.evaluation import NabCorpus
from seriesguard.evaluation.runner import (
    Retraining,
    first_of_repeats,
    oracle_score,
    score_nab_file,
    select_files,
)

pytestmark = pytest.mark.integration

NAB_ROOT = (Path(__file__).parents[3] / ".." / "shared" / "datasets" / "nab").resolve()
needs_corpus = pytest.mark.skipif(
    not (NAB_ROOT / "data").is_dir(),
    reason=f"the NAB corpus is not at {NAB_ROOT} (it lives outside the repo, never copied in)",
)
SUBSET = "realAdExchange/exchange-3_*"  # two small files (~1,540 rows each), 4 windows


@needs_corpus
def test_evaluate_writes_the_report_and_json(tmp_path: Path) -> None:
    out_md, out_json = tmp_path / "q.md", tmp_path / "q.json"
    result = CliRunner().invoke(
        app,
        [
            "evaluate",
            "--nab",
            str(NAB_ROOT),
            "--detectors",
            "zscore,residual,residual:rearm_points=0",
            "--files",
            SUBSET,
            "--out-md",
            str(out_md),
            "--out-json",
            str(out_json),
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out_json.read_text())
    assert set(doc) == {"zscore", "residual", "residual:rearm_points=0", "_meta"}
    row = doc["zscore"]
    assert {"standard", "low_fp", "low_fn", "precision", "recall", "f1"} <= set(row)
    for profile in ("standard", "low_fp", "low_fn"):
        assert -math.inf < row[profile] <= 100.0
    for key in ("precision", "recall", "f1"):
        assert 0.0 <= row[key] <= 1.0
    assert doc["_meta"]["files"] == 2
    assert doc["_meta"]["windows"] == 4
    text = out_md.read_text()
    assert "| zscore |" in text and "| residual:rearm_points=0 |" in text
    assert (
        "Default algorithm of the platform (a training request naming none): **residual**" in text
    )
    assert "Numenta HTM" in text and "tuned over the corpus per profile" in text


@needs_corpus
def test_evaluate_prints_json_and_rejects_unknown_detector() -> None:
    runner = CliRunner()
    ok = runner.invoke(
        app,
        ["evaluate", "--nab", str(NAB_ROOT), "--detectors", "zscore", "--files", SUBSET, "--json"],
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["zscore"]["standard"] <= 100.0
    bad = runner.invoke(app, ["evaluate", "--nab", str(NAB_ROOT), "--detectors", "nope"])
    assert bad.exit_code == 1
    assert "unknown_algorithm" in bad.output
    none = runner.invoke(app, ["evaluate", "--nab", str(NAB_ROOT), "--files", "no/such*"])
    assert none.exit_code == 1
    assert "nab_no_files" in none.output


@needs_corpus
def test_a_perfect_oracle_scores_100() -> None:
    corpus = NabCorpus(NAB_ROOT)
    files = select_files(corpus, pattern=SUBSET)
    assert all(w.start_index >= f.probation for f in files for w in f.windows)
    assert oracle_score(files, profile=corpus.profiles()["standard"]) == pytest.approx(100.0)


def test_repeated_timestamps_keep_the_first_row() -> None:
    mask = first_of_repeats(np.array([1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0]))
    assert mask.tolist() == [True, True, False, True, False, False, True]


@needs_corpus
def test_retraining_refits_on_the_trailing_window() -> None:
    nab_file = select_files(NabCorpus(NAB_ROOT), pattern="realAdExchange/exchange-3_cpc*")[0]
    once = score_nab_file(nab_file, algorithm="zscore", max_points=100_000, hyperparameters={})
    refit = score_nab_file(
        nab_file,
        algorithm="zscore",
        max_points=100_000,
        hyperparameters={},
        retraining=Retraining(every_rows=100, window_rows=200),
    )
    p = probation_rows(nab_file.values.size)
    assert np.all(np.isneginf(once.scores[:p])) and np.all(np.isfinite(once.scores[p:]))
    # The first 100 scored rows use the same model; later ones come from refitted models.
    np.testing.assert_array_equal(once.scores[p : p + 100], refit.scores[p : p + 100])
    assert not np.array_equal(once.scores[p + 100 :], refit.scores[p + 100 :])


def test_retraining_rejects_nonsense_sizes() -> None:
    with pytest.raises(InvalidInput) as caught:
        Retraining(every_rows=0, window_rows=10)
    assert caught.value.rule == "retrain_rows"
