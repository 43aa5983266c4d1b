"""Normalised scores of a batch: each point against the threshold of the version that answered
it, the same numbers as the single predict and ``normalized_scores``, in every answer format."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped]

from seriesguard.api.batch_schemas import arrow_answer, json_answer
from seriesguard.core.detectors import (
    RobustDetector,
    ZScoreDetector,
    normalized_score,
    normalized_scores,
)
from seriesguard.core.routing import buckets, cut, series_key
from seriesguard.serving.batch import BatchPoints, group_rows, score_batch
from seriesguard.serving.model_table import LoadedChallenger, LoadedModel
from seriesguard.serving.scorer import Scorer

START = 1_767_225_600.0
EDGE_SCORES = np.array([0.0, -1.0, 1e-300, 0.5, 3.0, 7.0, 1e308, np.inf, np.nan])


class Stub:
    """What score_batch asks of the predictor: every model resident."""

    def __init__(self, *models: LoadedModel) -> None:
        self._models = {m.series_id: m for m in models}
        self.fallback_enabled = True
        self.history = SimpleNamespace(record=lambda *point: None)

    def resident_scorer(self, series_id: str) -> Scorer | None:
        return self._models[series_id].resident


def test_per_point_thresholds_give_normalized_scores_numbers() -> None:
    thresholds = [3.0, 0.25, 1e300, 0.0, -2.0]
    finite = EDGE_SCORES[np.isfinite(EDGE_SCORES)]  # the common case takes a shorter path
    for threshold in thresholds:
        for scores in (EDGE_SCORES, finite, -finite):
            expected = normalized_scores(scores, threshold)
            got = normalized_scores(scores, np.full(scores.shape, threshold))
            np.testing.assert_array_equal(got, expected, err_msg=f"threshold {threshold}")
            assert not np.signbit(got).any()  # no -0.0 in an answer
    # and several thresholds in one pass, each point its own
    mixed = np.resize(np.array(thresholds), EDGE_SCORES.size)
    got = normalized_scores(EDGE_SCORES, mixed)
    for score, threshold, value in zip(EDGE_SCORES, mixed, got, strict=True):
        assert value == normalized_scores(np.array([score]), float(threshold))[0]
        assert value == normalized_score(float(score), float(threshold))  # the single answer's
        assert 0.0 <= value <= 1.0


def test_each_point_is_normalised_by_the_threshold_of_who_answered_it() -> None:
    # the canary's threshold (2.0) differs from production's (4.0): a point between them in
    # sigmas is an anomaly only where the canary answered, and its normalised score says so
    canary = LoadedChallenger(
        version=2, detector=ZScoreDetector(mean=0.0, std=1.0, threshold_sigma=2.0), percentage=40
    )
    production = LoadedModel(
        series_id="s",
        version=1,
        detector=ZScoreDetector(mean=0.0, std=1.0, threshold_sigma=4.0),
        origin="catalog",
        size_bytes=10,
        canary=canary,
    )
    plain = LoadedModel(
        series_id="r",
        version=1,
        detector=RobustDetector(median=5.0, scale=2.0),
        origin="catalog",
        size_bytes=10,
    )
    ts = START + np.arange(400, dtype=np.float64)
    values = np.where(np.arange(400) % 2 == 0, 3.0, 9.0)
    points = BatchPoints(
        series_ids=["s", "r"],
        bounds=np.array([0, 200, 400], dtype=np.int64),
        timestamps=ts,
        values=values,
        run_loc=lambda index: ("body", "series", index),
    )
    batch = score_batch(Stub(production, plain), points)  # type: ignore[arg-type]
    by_canary = buckets(series_key("s"), ts[:200]) < cut(40.0)
    assert 0 < by_canary.sum() < 200
    threshold = np.concatenate([np.where(by_canary, 2.0, 4.0), np.full(200, 3.5)])
    expected = [normalized_score(s, t) for s, t in zip(batch.scores, threshold, strict=True)]
    np.testing.assert_array_equal(batch.normalized, expected)
    np.testing.assert_array_equal(batch.normalized > 0.5, batch.anomalies)  # none at the edge
    assert batch.anomalies[:200][by_canary & (values[:200] == 3.0)].all()
    assert not batch.anomalies[:200][~by_canary & (values[:200] == 3.0)].any()

    document = orjson.loads(json_answer(batch))
    answered = [n for result in document["results"] for n in result["normalized_scores"]]
    assert answered == batch.normalized.tolist()
    table = pa.ipc.open_stream(pa.py_buffer(bytes(arrow_answer(batch)))).read_all()
    assert table.column("normalized_score").to_pylist() == batch.normalized.tolist()


def test_regrouped_rows_answer_normalised_scores_in_request_order() -> None:
    detectors = {"a": ZScoreDetector(mean=0.0, std=1.0), "b": ZScoreDetector(mean=100.0, std=5.0)}
    models = [
        LoadedModel(series_id=s, version=1, detector=d, origin="catalog", size_bytes=10)
        for s, d in detectors.items()
    ]
    codes = np.array([0, 1, 0, 1, 1, 0], dtype=np.int64)  # interleaved, as an Arrow body may be
    values = np.array([0.5, 130.0, 9.0, 101.0, 80.0, -1.0])
    ts = START + np.arange(6, dtype=np.float64)
    bounds, run_codes, rows = group_rows(codes)
    assert rows is not None
    points = BatchPoints(
        series_ids=[["a", "b"][c] for c in run_codes.tolist()],
        bounds=bounds,
        timestamps=ts[rows],
        values=values[rows],
        run_loc=lambda index: ("body", "series_id", index),
        rows=rows,
    )
    batch = score_batch(Stub(*models), points)  # type: ignore[arg-type]
    in_order = batch.normalized_in_request_order()
    names = ["a", "b"]
    expected = [
        detectors[names[c]].normalized(detectors[names[c]].score_one(v, t))
        for c, v, t in zip(codes.tolist(), values.tolist(), ts.tolist(), strict=True)
    ]
    np.testing.assert_array_equal(in_order, expected)
    scores, anomalies = batch.in_request_order()
    np.testing.assert_array_equal(in_order > 0.5, anomalies)
    table = pa.ipc.open_stream(pa.py_buffer(bytes(arrow_answer(batch)))).read_all()
    assert table.column("normalized_score").to_pylist() == in_order.tolist()
    assert table.column("anomaly_score").to_pylist() == scores.tolist()
