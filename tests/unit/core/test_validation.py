from __future__ import annotations

import math

import numpy as np
import pytest

from seriesguard.core.errors import InvalidInput
from seriesguard.core.validation import PointLimits, validate_training_data

LIMITS = PointLimits(min_points=10, max_points=20)


def good(n: int = 12) -> tuple[list[object], list[float]]:
    return [1_700_000_000 + 60 * i for i in range(n)], [float(i % 5) for i in range(n)]


def with_value(index: int, value: float) -> tuple[list[object], list[float]]:
    ts, vs = good()
    vs[index] = value
    return ts, vs


def with_ts(index: int, value: object) -> tuple[list[object], list[float]]:
    ts, vs = good()
    ts[index] = value
    return ts, vs


CASES = [
    ("too_few", good(9), "min_points", ("body", "values")),
    ("too_many", good(21), "max_points", ("body", "values")),
    ("mismatch", (good()[0][:11], good()[1]), "length_mismatch", ("body", "timestamps")),
    ("nan", with_value(4, math.nan), "finite_values", ("body", "values", 4)),
    ("inf", with_value(7, math.inf), "finite_values", ("body", "values", 7)),
    ("decreasing", with_ts(5, 1_600_000_000), "strictly_increasing", ("body", "timestamps", 5)),
    (
        "duplicate",
        with_ts(3, 1_700_000_000 + 60 * 2),
        "duplicate_timestamp",
        ("body", "timestamps", 3),
    ),
    ("bad_iso", with_ts(2, "yesterday"), "timestamp_format", ("body", "timestamps", 2)),
    ("bool_ts", with_ts(1, True), "timestamp_format", ("body", "timestamps", 1)),
    (
        "constant",
        ([1_700_000_000 + i for i in range(12)], [3.0] * 12),
        "min_std",
        ("body", "values"),
    ),
]


@pytest.mark.parametrize(("name", "data", "rule", "loc"), CASES, ids=[c[0] for c in CASES])
def test_each_rule_names_itself_and_the_place(
    name: str, data: tuple, rule: str, loc: tuple
) -> None:
    with pytest.raises(InvalidInput) as caught:
        validate_training_data(data[0], data[1], limits=LIMITS)
    assert caught.value.rule == rule
    assert caught.value.loc == loc


def test_iso_and_epoch_timestamps_give_the_same_instants() -> None:
    iso = [f"2024-01-01T00:{i:02d}:00Z" for i in range(12)]
    spaced = [f"2024-01-01 00:{i:02d}:00" for i in range(12)]
    epoch = [1_704_067_200 + 60 * i for i in range(12)]
    values = [float(i % 3) for i in range(12)]
    a = validate_training_data(iso, values, limits=LIMITS)
    b = validate_training_data(spaced, values, limits=LIMITS)
    c = validate_training_data(epoch, values, limits=LIMITS)
    assert np.array_equal(a.timestamps, c.timestamps)
    assert np.array_equal(b.timestamps, c.timestamps)
    assert len(a) == 12
