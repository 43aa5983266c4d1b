"""Property-based tests of the monitoring statistics.

Covers ``seriesguard.core.sketch`` (every quantile within the sketch's relative error of the
exact one, end buckets excepted; merging the sketches of parts equals sketching the whole;
JSON round trips; ``from_json`` accepts or raises ValueError only), ``seriesguard.core.drift``
(PSI is non-negative, symmetric and zero on equal histograms; the vectorised fleet forms
agree row by row with the scalar tests; verdicts are consistent with their evidence and
serialise to strict JSON) and ``seriesguard.core.quality`` (confusion counts of concatenated
labels add up; F1 is the harmonic mean of precision and recall).
"""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from seriesguard.core import drift, sketch
from seriesguard.core.quality import Confusion, confusion
from seriesguard.core.sketch import MAX_INDEX, MIN_SECONDS, RELATIVE_ERROR

PROPS = settings(max_examples=150, deadline=None, derandomize=True)
# Latencies as a predictor sees them, plus the odd clock skew, zero and runaway request.
LATENCY = (
    st.floats(MIN_SECONDS, 200.0, allow_nan=False)
    | st.floats(1e-4, 1.0)
    | st.sampled_from([0.0, -0.003, 1e-9, 1e4, math.inf])
)
LATENCIES = st.lists(LATENCY, min_size=1, max_size=300)
Q = st.floats(0.0, 1.0)
TOP_LOWER_EDGE = MIN_SECONDS * sketch.GAMMA ** (MAX_INDEX - 1)
COUNT = st.integers(0, 10_000)


def sketch_of(latencies: list[float]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for seconds in latencies:
        index = sketch.bucket_of(seconds)
        counts[index] = counts.get(index, 0) + 1
    return counts


def exact_quantile(latencies: list[float], q: float) -> float:
    ordered = sorted(latencies)
    return ordered[max(1, math.ceil(round(q * len(ordered), 9))) - 1]


@PROPS
@given(LATENCIES, st.lists(Q, min_size=1, max_size=6))
def test_quantiles_are_within_the_relative_error_of_the_exact_ones(
    latencies: list[float], qs: list[float]
) -> None:
    answers = sketch.quantiles(sketch_of(latencies), qs)
    for q in qs:
        exact, reported = exact_quantile(latencies, q), answers[q]
        assert reported is not None
        if exact <= MIN_SECONDS:
            assert reported == MIN_SECONDS
        elif exact > TOP_LOWER_EDGE:
            assert reported == sketch.bucket_value(MAX_INDEX)
        else:
            assert abs(reported - exact) <= (RELATIVE_ERROR + 1e-9) * exact
        assert reported == sketch.quantile(sketch_of(latencies), q)


@PROPS
@given(LATENCIES, st.lists(Q, min_size=2, max_size=6))
def test_quantiles_never_decrease_with_q(latencies: list[float], qs: list[float]) -> None:
    answers = sketch.quantiles(sketch_of(latencies), sorted(qs))
    values = [answers[q] for q in sorted(qs)]
    assert values == sorted(values)  # type: ignore[type-var]


@PROPS
@given(LATENCIES, st.data())
def test_merging_sketches_of_parts_equals_the_sketch_of_the_whole(
    latencies: list[float], data: st.DataObject
) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(0, len(latencies)), max_size=4), label="cuts"))
    bounds = [0, *cuts, len(latencies)]
    parts = [latencies[lo:hi] for lo, hi in itertools.pairwise(bounds)]
    whole = sketch_of(latencies)
    merged = sketch.merge_all(sketch_of(part) for part in parts)
    assert {i: n for i, n in merged.items() if n} == whole
    half = len(latencies) // 2
    assert sketch.merge(sketch_of(latencies[:half]), sketch_of(latencies[half:])) == whole
    assert sketch.count(merged) == len(latencies)


@PROPS
@given(st.dictionaries(st.integers(0, MAX_INDEX), st.integers(0, 10**12), max_size=30))
def test_json_round_trip_keeps_every_non_empty_bucket(counts: dict[int, int]) -> None:
    document = json.loads(json.dumps(sketch.to_json(counts)))
    assert sketch.from_json(document) == {i: n for i, n in counts.items() if n}


JSON_VALUE = st.none() | st.booleans() | st.integers(-5, 10**20) | st.floats() | st.text(max_size=4)


@PROPS
@given(st.dictionaries(st.text(max_size=5) | st.integers(-3, 300).map(str), JSON_VALUE))
def test_from_json_accepts_a_sketch_or_raises_value_error_only(document: dict[str, object]) -> None:
    try:
        parsed = sketch.from_json(document)
    except ValueError:
        return
    assert all(0 <= i <= MAX_INDEX and n > 0 for i, n in parsed.items())
    assert all(type(n) is int and not isinstance(n, bool) for n in document.values())
    assert sketch.count(parsed) == sum(n for n in document.values() if isinstance(n, int))


HISTOGRAM = st.lists(COUNT, min_size=1, max_size=10)


@PROPS
@given(HISTOGRAM, st.data())
def test_psi_is_non_negative_symmetric_and_zero_on_equal_histograms(
    reference: list[int], data: st.DataObject
) -> None:
    current = data.draw(st.lists(COUNT, min_size=len(reference), max_size=len(reference)))
    value = drift.psi(reference, current)
    assert math.isfinite(value) and value >= -1e-15
    assert math.isclose(value, drift.psi(current, reference), rel_tol=1e-9, abs_tol=1e-15)
    assert drift.psi(reference, reference) == 0.0


@PROPS
@given(st.integers(1, 10), st.integers(0, 12), st.data())
def test_psi_many_equals_psi_row_by_row(k: int, m: int, data: st.DataObject) -> None:
    ref = np.array(
        data.draw(st.lists(st.lists(COUNT, min_size=k, max_size=k), min_size=m, max_size=m)),
        dtype=np.int64,
    ).reshape(m, k)
    cur = np.array(
        data.draw(st.lists(st.lists(COUNT, min_size=k, max_size=k), min_size=m, max_size=m)),
        dtype=np.int64,
    ).reshape(m, k)
    valid = np.array(data.draw(st.lists(st.integers(0, k), min_size=m, max_size=m)), np.int64)
    many = drift.psi_many(ref, cur, valid)
    assert many.shape == (m,)
    for row in range(m):
        bins = int(valid[row])
        if bins == 0:
            assert math.isnan(many[row])
            continue
        scalar = drift.psi(ref[row, :bins].tolist(), cur[row].tolist())
        assert math.isclose(float(many[row]), scalar, rel_tol=1e-9, abs_tol=1e-12)


RATE_ROW = st.tuples(
    st.floats(0.0, 1.0) | st.sampled_from([0.0, 0.01, 0.5, 1.0]),
    st.integers(0, 100_000),
    st.integers(0, 5_000),
    st.floats(0.0, 1.0),
)


@PROPS
@given(
    st.lists(RATE_ROW, max_size=20),
    st.sampled_from([0.01, 0.05]),
    st.sampled_from([0.0, 0.2, 0.5]),
    st.sampled_from([0, 1, 100, 500]),
)
def test_anomaly_rate_change_many_equals_the_scalar_test(
    rows: list[tuple[float, int, int, float]], alpha: float, min_change: float, min_samples: int
) -> None:
    baseline_rate = [r for r, _, _, _ in rows]
    baseline_n = [b for _, b, _, _ in rows]
    n = [size for _, _, size, _ in rows]
    anomalies = [math.floor(share * size) for _, _, size, share in rows]
    z, p, detected = drift.anomaly_rate_change_many(
        np.array(baseline_rate, dtype=np.float64),
        np.array(baseline_n, dtype=np.int64),
        np.array(anomalies, dtype=np.int64),
        np.array(n, dtype=np.int64),
        alpha=alpha,
        min_change=min_change,
        min_samples=min_samples,
    )
    for i in range(len(rows)):
        verdict = drift.anomaly_rate_change(
            baseline_rate=baseline_rate[i],
            baseline_n=baseline_n[i],
            anomalies=anomalies[i],
            n=n[i],
            alpha=alpha,
            min_change=min_change,
            min_samples=min_samples,
        )
        assert bool(detected[i]) is (verdict.detected is True)
        if verdict.statistic is None:
            assert math.isnan(z[i]) and math.isnan(p[i])
        else:
            assert float(z[i]) == verdict.statistic
            assert float(p[i]) == verdict.details["p_value"]
        json.dumps(verdict.to_json(), allow_nan=False)


@PROPS
@given(COUNT, COUNT, COUNT, COUNT, st.sampled_from([0.0, 0.1, 0.3]), st.integers(0, 50))
def test_precision_drop_verdict_agrees_with_its_evidence(
    baseline_tp: int, baseline_fp: int, tp: int, fp: int, min_drop: float, min_samples: int
) -> None:
    verdict = drift.precision_drop(
        baseline_tp=baseline_tp, baseline_fp=baseline_fp, tp=tp, fp=fp,
        min_drop=min_drop, min_samples=min_samples,
    )  # fmt: skip
    json.dumps(verdict.to_json(), allow_nan=False)
    assert (verdict.sample_size, verdict.reference_size) == (tp + fp, baseline_tp + baseline_fp)
    if verdict.detected is None:
        assert verdict.reason in {"insufficient_data", "no_reference"}
        assert min(tp + fp, baseline_tp + baseline_fp) < max(min_samples, 1)
        return
    before, now = baseline_tp / (baseline_tp + baseline_fp), tp / (tp + fp)
    assert verdict.statistic == before - now
    p_value = verdict.details["p_value"]
    assert isinstance(p_value, float) and 0.0 <= p_value <= 1.0
    assert verdict.detected is (before - now >= min_drop and p_value < verdict.threshold)
    assert verdict.reason == ("drift" if verdict.detected else "stable")


LABELS = st.lists(st.tuples(st.booleans(), st.booleans()), max_size=60)


@PROPS
@given(LABELS, LABELS)
def test_confusion_of_concatenated_labels_is_the_sum(
    first: list[tuple[bool, bool]], second: list[tuple[bool, bool]]
) -> None:
    def counts(pairs: list[tuple[bool, bool]]) -> Confusion:
        return confusion([p for p, _ in pairs], [a for _, a in pairs])

    total = counts(first + second)
    assert total == counts(first) + counts(second)
    assert total.labelled == len(first) + len(second)
    assert total.tp == sum(p and a for p, a in first + second)


@PROPS
@given(COUNT, COUNT, COUNT, COUNT)
def test_rates_lie_in_zero_one_and_f1_is_the_harmonic_mean(
    tp: int, fp: int, fn: int, tn: int
) -> None:
    counts = Confusion(tp=tp, fp=fp, fn=fn, tn=tn)
    rates = [counts.precision, counts.recall, counts.f1, counts.false_positive_rate]
    assert all(r is None or 0.0 <= r <= 1.0 for r in rates)
    precision, recall, f1 = counts.precision, counts.recall, counts.f1
    if precision is not None and recall is not None and precision + recall > 0:
        assert f1 is not None
        assert math.isclose(f1, 2 * precision * recall / (precision + recall), rel_tol=1e-12)
    assert json.loads(json.dumps(counts.to_json()))["labelled"] == tp + fp + fn + tn
