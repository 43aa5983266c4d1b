"""Canary split and shadow scoring in the predictor: single predicts and batches alike."""

from __future__ import annotations

from array import array
from types import SimpleNamespace
from typing import Any

import numpy as np
import orjson
import pyarrow as pa  # type: ignore[import-untyped]
import pytest

from seriesguard.api.batch_schemas import arrow_answer, json_answer
from seriesguard.api.routes.predict import answer_counted
from seriesguard.core.detectors import ZScoreDetector
from seriesguard.core.monitoring import StatsRow
from seriesguard.core.routing import bucket, buckets, cut, series_key
from seriesguard.serving.batch import BatchPoints, count_batch, score_batch
from seriesguard.serving.model_table import LoadedChallenger, LoadedModel
from seriesguard.serving.scorer import Scorer
from seriesguard.serving.stats import StatsRecorder

START = 1_767_225_600.0
SERIES = "sensor-9:x"
POINTS = 10_000


class Exploding(ZScoreDetector):
    """A shadow whose scoring raises: the request must not notice."""

    def score_one(self, value: float, timestamp: float) -> float:
        raise RuntimeError("shadow broke")

    def score(self, values: Any, timestamps: Any) -> Any:
        raise RuntimeError("shadow broke")


def model(
    *,
    percentage: float | None = 20.0,
    shadow: ZScoreDetector | None = None,
    series_id: str = SERIES,
) -> LoadedModel:
    canary = None
    if percentage is not None:
        canary = LoadedChallenger(
            version=2, detector=ZScoreDetector(mean=0.0, std=0.5), percentage=percentage
        )
    return LoadedModel(
        series_id=series_id,
        version=1,
        detector=ZScoreDetector(mean=0.0, std=1.0),
        origin="catalog",
        size_bytes=10,
        edges=array("d", (0.0,)),
        canary=canary,
        shadow=None
        if shadow is None
        else LoadedChallenger(version=3, detector=shadow, edges=array("d", (-1.0, 1.0))),
    )


class Stub:
    """What answer_counted and the batch functions ask of the predictor."""

    def __init__(self, *models: LoadedModel) -> None:
        self.stats = StatsRecorder(source="test", max_series=100)
        self.history = SimpleNamespace(record=lambda *point: None)  # the history store's
        self.fallback_enabled = True
        self._models = {m.series_id: m for m in models}

    def resident_scorer(self, series_id: str) -> Scorer | None:
        return self._models[series_id].resident

    def rows(self) -> dict[int, StatsRow]:
        return {row.version: row for row in self.stats.collect().rows}


def values() -> np.ndarray:
    return np.random.default_rng(5).normal(0.0, 1.4, POINTS)


def timestamps() -> np.ndarray:
    return START + np.arange(POINTS, dtype=np.float64)


def single(stub: Stub, value: float, timestamp: float) -> dict[str, Any]:
    scorer = stub.resident_scorer(SERIES)
    assert scorer is not None
    content, anomaly = answer_counted(
        stub,  # type: ignore[arg-type]
        SERIES,
        timestamp,
        value,
        scorer,
        started=0.0,
    )
    answer: dict[str, Any] = orjson.loads(content)
    assert answer["anomaly"] is anomaly
    return answer


@pytest.mark.parametrize("percentage", [5.0, 20.0, 50.0, 95.0])
def test_canary_answers_its_share_and_is_counted_as_its_version(percentage: float) -> None:
    stub = Stub(model(percentage=percentage))
    points = list(zip(values().tolist(), timestamps().tolist(), strict=True))
    answers = [single(stub, v, t) for v, t in points]
    canary = [a for a in answers if a["model_info"]["stage"] == "canary"]
    for (value, _), answer in zip(points, answers, strict=True):  # scored by who answered
        std = 0.5 if answer["model_info"]["stage"] == "canary" else 1.0
        assert answer["anomaly_score"] == pytest.approx(abs(value) / std)
    assert abs(len(canary) / POINTS * 100 - percentage) <= 1.5
    assert {a["model_info"]["version"] for a in canary} == {"v2"}
    assert {a["confidence"] for a in canary} == {"high"}
    assert {a["model_info"]["type"] for a in canary} == {"mlflow_trained"}
    rows = stub.rows()
    assert (rows[1].requests, rows[2].requests) == (POINTS - len(canary), len(canary))
    assert rows[2].anomalies == sum(a["anomaly"] for a in canary)
    assert rows[2].agreements == 0 and rows[1].agreements == 0


def test_same_point_same_version_every_time_single_and_batch() -> None:
    stub = Stub(model(percentage=20.0))
    vs, ts = values()[:2000], timestamps()[:2000]
    first = [
        single(stub, v, t)["model_info"]["stage"]
        for v, t in zip(vs.tolist(), ts.tolist(), strict=True)
    ]
    again = [
        single(stub, v, t)["model_info"]["stage"]
        for v, t in zip(vs.tolist(), ts.tolist(), strict=True)
    ]
    assert first == again
    expected = buckets(series_key(SERIES), ts) < cut(20.0)
    assert [stage == "canary" for stage in first] == expected.tolist()
    scores = score_batch(stub, batch([SERIES], vs, ts))  # type: ignore[arg-type]
    part = scores.canary[0]
    assert part.mask.tolist() == expected.tolist()
    canary_rows = scores.canary_rows()
    assert canary_rows is not None and canary_rows.tolist() == expected.tolist()


def batch(series_ids: list[str], vs: np.ndarray, ts: np.ndarray) -> BatchPoints:
    per = vs.shape[0] // len(series_ids)
    bounds = np.arange(len(series_ids) + 1, dtype=np.int64) * per
    return BatchPoints(
        series_ids=series_ids,
        bounds=bounds,
        timestamps=np.tile(ts[:per], len(series_ids)),
        values=np.tile(vs[:per], len(series_ids)),
        run_loc=lambda index: ("body", "series", index),
    )


def test_batch_scores_each_point_with_the_version_that_answers_it() -> None:
    stub = Stub(model(percentage=50.0, shadow=ZScoreDetector(mean=0.2, std=1.0)))
    vs, ts = values(), timestamps()
    scores = score_batch(stub, batch([SERIES], vs, ts))  # type: ignore[arg-type]
    singles = [
        single(Stub(model(percentage=50.0)), v, t)
        for v, t in zip(vs.tolist(), ts.tolist(), strict=True)
    ]
    assert scores.anomalies.tolist() == [a["anomaly"] for a in singles]
    np.testing.assert_allclose(scores.scores, [a["anomaly_score"] for a in singles])
    np.testing.assert_allclose(scores.normalized, [a["normalized_score"] for a in singles])
    count_batch(stub.stats, scores, seconds=0.01)
    rows = stub.rows()
    answered_by_canary = int(scores.canary[0].mask.sum())
    assert rows[2].requests == answered_by_canary
    assert rows[1].requests == POINTS - answered_by_canary
    assert rows[1].anomalies + rows[2].anomalies == int(scores.anomalies.sum())
    shadow = ZScoreDetector(mean=0.2, std=1.0).score(vs, ts) > 3.0
    assert rows[3].requests == POINTS  # the shadow scored the whole run
    assert rows[3].agreements == int((shadow == scores.anomalies).sum())
    assert rows[3].anomalies == int(shadow.sum())


def test_batch_answers_say_where_the_canary_answered() -> None:
    stub = Stub(model(percentage=30.0), model(percentage=None, series_id="plain"))
    vs, ts = values()[:1000], timestamps()[:1000]
    scores = score_batch(stub, batch([SERIES, "plain"], vs, ts))  # type: ignore[arg-type]
    document = orjson.loads(json_answer(scores))
    with_canary, plain = document["results"]
    expected = np.flatnonzero(buckets(series_key(SERIES), ts[:500]) < cut(30.0)).tolist()
    assert with_canary["canary"]["points"] == expected
    assert with_canary["canary"]["model_info"]["stage"] == "canary"
    assert with_canary["canary"]["model_info"]["version"] == "v2"
    assert with_canary["model_info"]["stage"] == "production"
    assert "canary" not in plain
    reader = pa.ipc.open_stream(pa.py_buffer(bytes(arrow_answer(scores))))
    table = reader.read_all()
    assert table.column("canary").to_pylist() == [i in expected for i in range(500)] + [False] * 500
    facts = orjson.loads(table.schema.metadata[b"seriesguard.series"])
    assert facts[SERIES]["canary"]["model_info"]["version"] == "v2"
    assert "canary" not in facts["plain"]


def test_batch_without_canaries_keeps_its_shape() -> None:
    stub = Stub(model(percentage=None, series_id="plain"))
    scores = score_batch(stub, batch(["plain"], values()[:10], timestamps()[:10]))  # type: ignore[arg-type]
    assert scores.canary == {} and scores.canary_rows() is None
    table = pa.ipc.open_stream(pa.py_buffer(bytes(arrow_answer(scores)))).read_all()
    assert table.column_names == ["anomaly", "anomaly_score", "normalized_score"]
    assert "canary" not in orjson.loads(json_answer(scores))["results"][0]


def test_shadow_is_counted_with_agreements_and_never_answers() -> None:
    stub = Stub(model(percentage=None, shadow=ZScoreDetector(mean=0.0, std=0.5)))
    vs, ts = values()[:3000], timestamps()[:3000]
    answers = [single(stub, v, t) for v, t in zip(vs.tolist(), ts.tolist(), strict=True)]
    assert {a["model_info"]["version"] for a in answers} == {"v1"}
    assert {a["model_info"]["stage"] for a in answers} == {"production"}
    rows = stub.rows()
    shadow = ZScoreDetector(mean=0.0, std=0.5).score(vs, ts) > 3.0
    answered = np.array([a["anomaly"] for a in answers])
    assert rows[3].requests == rows[1].requests == 3000
    assert rows[3].anomalies == int(shadow.sum()) > rows[1].anomalies
    assert rows[3].agreements == int((shadow == answered).sum()) < 3000
    assert sum(rows[3].bins) == 3000  # binned on the shadow's own reference
    assert rows[3].errors == 0


def test_shadow_flags_are_kept_under_its_version() -> None:
    stub = Stub(model(percentage=None, shadow=ZScoreDetector(mean=0.0, std=0.1)))
    single(stub, 0.5, START)  # the shadow flags it (5 sigma), production does not (0.5)
    flagged = stub.stats.collect().flagged
    assert [(f.series_id, f.version, f.timestamp) for f in flagged] == [(SERIES, 3, START)]


def test_failing_shadow_is_an_error_of_the_shadow_only() -> None:
    stub = Stub(model(percentage=None, shadow=Exploding(mean=0.0, std=1.0)))
    answer = single(stub, 0.5, START)
    assert answer["model_info"]["version"] == "v1"
    scores = score_batch(stub, batch([SERIES], values()[:40], timestamps()[:40]))  # type: ignore[arg-type]
    count_batch(stub.stats, scores, seconds=0.01)
    rows = stub.rows()
    assert (rows[3].requests, rows[3].errors, rows[3].agreements) == (41, 41, 0)
    assert (rows[1].requests, rows[1].errors) == (41, 0)


def test_series_without_challengers_is_unchanged() -> None:
    plain = model(percentage=None)
    assert plain.resident.routing is None and plain.resident.pick(START) is plain.resident
    stub = Stub(plain)
    answer = single(stub, 3.5, START)
    assert answer["model_info"] == {
        "version": "v1",
        "stage": "production",
        "type": "mlflow_trained",
        "loaded_from": "memory",
    }
    assert list(stub.rows()) == [1]


def test_zero_percent_canary_answers_nothing_and_pick_matches_bucket() -> None:
    stub = Stub(model(percentage=0.0))
    assert {single(stub, 0.1, START + i)["model_info"]["version"] for i in range(500)} == {"v1"}
    loaded = model(percentage=37.0)
    key = series_key(SERIES)
    for i in range(200):
        picked = loaded.resident.pick(START + i * 7.5)
        assert (picked.info.stage == "canary") == (bucket(key, START + i * 7.5) < 3700)


def test_first_answer_carries_the_routing_too() -> None:
    loaded = model(percentage=100.0, shadow=ZScoreDetector(mean=0.0, std=1.0))
    first = loaded.first_answer()
    assert first.info.loaded_from == "catalog" and first.routing is not None
    picked = first.pick(START)
    assert (picked.info.stage, picked.info.loaded_from, picked.key) == (
        "canary",
        "catalog",
        (SERIES, 2),
    )
    shadow = first.routing.shadow
    assert shadow is not None and (shadow.info.stage, shadow.key) == ("shadow", (SERIES, 3))
