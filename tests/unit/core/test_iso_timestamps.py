"""ISO-8601 timestamps parsed column by column give what ``fromisoformat`` gives, to the bit."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from seriesguard.core.errors import InvalidInput
from seriesguard.core.validation import (
    PointLimits,
    parse_timestamp,
    parse_timestamps,
    parse_uniform_iso,
    validate_training_data,
)


def one_by_one(texts: list[str]) -> np.ndarray:
    return np.array([parse_timestamp(t, loc=()) for t in texts], dtype=np.float64)


def series(start: datetime, count: int, step: timedelta, layout: str, zone: str) -> list[str]:
    texts = []
    for index in range(count):
        moment = start + index * step
        if layout == "millis":
            text = moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"
        else:
            text = moment.strftime(layout)
        texts.append(text + zone)
    return texts


LAYOUTS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S.%f", "millis"]
ZONES = ["", "Z", "+00:00", "+05:30", "-03:00"]
YEARS = [1, 2, 1600, 1900, 1969, 1970, 2000, 2024, 2100, 2400, 9998]


@pytest.mark.parametrize("seed", range(20))
def test_every_accepted_layout_matches_fromisoformat(seed: int) -> None:
    rng = random.Random(seed)
    fast_paths = 0
    for _ in range(60):
        start = datetime(rng.choice(YEARS), 1, 1) + timedelta(
            days=rng.randint(0, 364),
            seconds=rng.randint(0, 86_399),
            microseconds=rng.randint(0, 10**6 - 1),
        )
        step = timedelta(seconds=rng.randint(1, 5000), microseconds=rng.randint(0, 10**6 - 1))
        texts = series(start, rng.randint(1, 40), step, rng.choice(LAYOUTS), rng.choice(ZONES))
        parsed = parse_uniform_iso(texts)
        if parsed is not None:  # None: left to the one-by-one path, which is always right
            fast_paths += 1
            assert np.array_equal(parsed, one_by_one(texts)), texts[:3]
    assert fast_paths > 30


def test_offsets_may_change_sign_within_a_series() -> None:
    texts = ["2024-03-31T01:00:00+01:00", "2024-03-31T03:00:00-02:00", "2024-10-27T02:30:00+02:00"]
    parsed = parse_uniform_iso(texts)
    assert parsed is not None
    assert np.array_equal(parsed, one_by_one(texts))


@pytest.mark.parametrize(
    "texts",
    [
        ["2024-01-01T00:00:00Z", "2024-01-01T00:01:00+00:00"],  # two layouts
        ["2024-01-01T00:00:00", "2024-01-01T00:00:0"],  # a shorter text
        ["2024-01-01T00:00:00", "2024-01-01T00:00:00", "Z2024-01-01T00:00:0"],  # lengths sum up
        ["2024-01-01T00:00:00", "2024-01-0\n00:00:00"],  # a newline where the layout has none
        ["2024-01-01T00:00:00", "2024-01-01x00:00:00"],  # valid ISO, another separator
        ["2024-01-01T00:00:00", "2024-02-30T00:00:00"],  # no such day
        ["2023-02-29T00:00:00"],  # not a leap year
        ["2024-13-01T00:00:00"],
        ["2024-01-01T24:00:00"],
        ["2024-01-01T00:60:00"],
        ["2024-01-01T00:00:60"],
        ["2024-01-01T00:00:00+24:00"],
        ["0000-01-01T00:00:00"],
        ["2024-01-01T00:00:00", "2024-01-01T00:00:0\u0661"],  # a non-ASCII digit
        ["2024-W01-1T00:00:00"],  # a layout fromisoformat knows and this one does not
        ["0100-01-01T00:00:00.5"],  # a fraction too far from 1970 for exact float64 micros
        ["2024-01-01T00:00:00", 1_704_067_260],  # text and a number: one by one
        [],
    ],
)
def test_anything_off_layout_is_left_to_the_one_by_one_path(texts: list[Any]) -> None:
    assert parse_uniform_iso(texts) is None


def test_a_bad_text_is_still_named_with_its_index() -> None:
    texts = [f"2024-01-01T00:{m:02d}:00Z" for m in range(12)]
    texts[7] = "2024-01-01T00:07:61Z"
    with pytest.raises(InvalidInput) as caught:
        validate_training_data(texts, [float(i % 3) for i in range(12)], limits=PointLimits(10, 20))
    assert caught.value.rule == "timestamp_format"
    assert caught.value.loc == ("body", "timestamps", 7)


def test_parse_timestamps_takes_the_columnar_path_for_uniform_text() -> None:
    texts = [f"2024-01-01T{h:02d}:{m:02d}:00Z" for h in range(24) for m in range(60)]
    assert np.array_equal(parse_timestamps(texts), one_by_one(texts))
    assert (
        parse_timestamps(texts)[0]
        == datetime.fromisoformat("2024-01-01T00:00:00+00:00").timestamp()
    )


def test_text_and_numbers_mixed_still_parse_one_by_one() -> None:
    mixed: list[object] = ["2024-01-01T00:00:00Z", 1_704_067_260, "2024-01-01T00:02:00+00:00"]
    assert parse_timestamps(mixed).tolist() == [1_704_067_200.0, 1_704_067_260.0, 1_704_067_320.0]
