"""The latency sketch: bucket grid, quantile rule, merging, JSON round trip and its refusals."""

from __future__ import annotations

import math
import re

import pytest

from seriesguard.core import sketch
from seriesguard.core.sketch import GAMMA, MAX_INDEX, MIN_SECONDS, RELATIVE_ERROR


def sketch_of(latencies: list[float]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for seconds in latencies:
        index = sketch.bucket_of(seconds)
        counts[index] = counts.get(index, 0) + 1
    return counts


def test_max_index_is_the_bucket_holding_120_seconds() -> None:
    assert MIN_SECONDS * GAMMA ** (MAX_INDEX - 1) < 120.0 <= MIN_SECONDS * GAMMA**MAX_INDEX
    assert sketch.bucket_of(120.0) == MAX_INDEX


@pytest.mark.parametrize("seconds", [0.0, -0.0, -1.0, -math.inf, MIN_SECONDS, 1e-9, math.nan])
def test_zero_negative_tiny_and_nan_go_to_bucket_zero(seconds: float) -> None:
    assert sketch.bucket_of(seconds) == 0


@pytest.mark.parametrize("seconds", [121.0, 3600.0, 1e300, math.inf])
def test_huge_latencies_go_to_the_last_bucket(seconds: float) -> None:
    assert sketch.bucket_of(seconds) == MAX_INDEX


@pytest.mark.parametrize("index", [1, 2, 50, 120, MAX_INDEX - 1])
def test_bucket_covers_its_half_open_range(index: int) -> None:
    lower, upper = MIN_SECONDS * GAMMA ** (index - 1), MIN_SECONDS * GAMMA**index
    assert sketch.bucket_of(lower * 1.000001) == index
    assert sketch.bucket_of(upper * 0.999999) == index
    assert sketch.bucket_of(upper * 1.000001) == index + 1


@pytest.mark.parametrize("index", [1, 7, 100, MAX_INDEX])
def test_bucket_value_is_equally_far_from_both_ends(index: int) -> None:
    lower, upper = MIN_SECONDS * GAMMA ** (index - 1), MIN_SECONDS * GAMMA**index
    value = sketch.bucket_value(index)
    assert lower < value < upper
    assert (value - lower) / lower == pytest.approx(RELATIVE_ERROR, rel=1e-9)
    assert (upper - value) / upper == pytest.approx(RELATIVE_ERROR, rel=1e-9)
    assert sketch.bucket_of(value) == index


def test_bucket_zero_reports_the_floor() -> None:
    assert sketch.bucket_value(0) == MIN_SECONDS


def test_quantile_rule_picks_the_ceil_q_n_th_smallest() -> None:
    latencies = [0.001 * k for k in range(1, 11)]  # 1 ms .. 10 ms
    counts = sketch_of(latencies)
    for q, rank in [(0.0, 1), (0.1, 1), (0.11, 2), (0.5, 5), (0.95, 10), (1.0, 10), (0.07, 1)]:
        expected = sketch.bucket_value(sketch.bucket_of(latencies[rank - 1]))
        assert sketch.quantile(counts, q) == expected, q


def test_rank_ignores_float_noise_in_q_times_n() -> None:
    assert 0.07 * 100 > 7  # the float product overshoots, the rank must not
    latencies = [float(k) for k in range(1, 101)]
    assert sketch.quantile(sketch_of(latencies), 0.07) == sketch.bucket_value(sketch.bucket_of(7))


def test_quantiles_answers_every_q_asked_in_the_order_asked() -> None:
    counts = sketch_of([0.002] * 90 + [0.5] * 9 + [3.0])
    answer = sketch.quantiles(counts, (0.99, 0.5, 0.999, 0.95))
    assert list(answer) == [0.99, 0.5, 0.999, 0.95]
    assert answer[0.5] == pytest.approx(0.002, rel=RELATIVE_ERROR)
    assert answer[0.95] == answer[0.99] == pytest.approx(0.5, rel=RELATIVE_ERROR)
    assert answer[0.999] == pytest.approx(3.0, rel=RELATIVE_ERROR)
    assert set(sketch.quantiles(counts)) == {0.5, 0.95, 0.99}


def test_empty_sketch_has_no_quantiles() -> None:
    assert sketch.quantile({}, 0.5) is None
    assert sketch.quantiles({}) == {0.5: None, 0.95: None, 0.99: None}
    assert sketch.quantile({3: 0}, 0.5) is None
    assert sketch.count({}) == 0


@pytest.mark.parametrize("q", [-0.01, 1.01, math.nan])
def test_quantile_outside_zero_one_is_refused(q: float) -> None:
    with pytest.raises(ValueError, match="quantile"):
        sketch.quantile({1: 1}, q)


def test_merge_adds_counts_and_leaves_its_arguments_alone() -> None:
    a, b = {1: 2, 5: 1}, {5: 3, 9: 4}
    assert sketch.merge(a, b) == {1: 2, 5: 4, 9: 4}
    assert a == {1: 2, 5: 1} and b == {5: 3, 9: 4}
    assert sketch.merge_all([a, b, {1: 1}]) == {1: 3, 5: 4, 9: 4}
    assert sketch.merge_all([]) == {}
    assert sketch.count(sketch.merge(a, b)) == 10


def test_json_round_trip_uses_string_keys_and_drops_empty_buckets() -> None:
    counts = {0: 1, 17: 0, MAX_INDEX: 5}
    document = sketch.to_json(counts)
    assert document == {"0": 1, str(MAX_INDEX): 5}
    assert sketch.from_json(document) == {0: 1, MAX_INDEX: 5}


@pytest.mark.parametrize(
    ("document", "bad_key"),
    [
        ({"x": 1}, "'x'"),
        ({"-1": 1}, "'-1'"),
        ({str(MAX_INDEX + 1): 1}, repr(str(MAX_INDEX + 1))),
        ({"07": 1}, "'07'"),
        ({"1.5": 1}, "'1.5'"),
        ({"3": -1}, "'3'"),
        ({"3": 1.0}, "'3'"),
        ({"3": True}, "'3'"),
        ({"3": "4"}, "'3'"),
        ({"2": 1, "4": None}, "'4'"),
    ],
)
def test_from_json_names_the_bad_key(document: dict[str, object], bad_key: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"key {bad_key}")):
        sketch.from_json(document)
