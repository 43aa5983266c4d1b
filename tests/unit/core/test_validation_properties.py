"""Property-based tests of the training input rules and of series ids / version labels.

Covers ``seriesguard.core.validation`` (validate_training_data, PointLimits, parse_timestamp,
parse_timestamps and its column-wise ISO-8601 fast path) and ``seriesguard.core.series``
(check_series_id against SERIES_ID_PATTERN, parse_version): valid series are accepted and
round-trip; each broken rule is refused with InvalidInput naming the rule and the exact index;
ISO-8601 text and epoch numbers of the same instants give the same floats; ids and version
labels are accepted exactly when they match their documented patterns, and anything else is
refused with InvalidInput, never another exception.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from seriesguard.core.errors import InvalidInput
from seriesguard.core.series import (
    MAX_VERSION,
    SERIES_ID_PATTERN,
    check_series_id,
    parse_version,
)
from seriesguard.core.validation import (
    MIN_STD,
    PointLimits,
    parse_timestamp,
    parse_timestamps,
    validate_training_data,
)

PROPS = settings(max_examples=150, deadline=None, derandomize=True)
LIMITS = PointLimits(min_points=5, max_points=40)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
VALUE = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@st.composite
def valid_series(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """Strictly increasing timestamps (ms resolution, exact in float64) and finite values."""
    n = draw(st.integers(LIMITS.min_points, LIMITS.max_points))
    start_ms = draw(st.integers(0, 4_000_000_000_000))
    steps = draw(hnp.arrays(np.int64, n, elements=st.integers(1, 10**9)))
    ts = (start_ms + np.cumsum(steps)) / 1000.0
    vs = draw(hnp.arrays(np.float64, n, elements=VALUE))
    assume(float(np.std(vs)) > MIN_STD)
    return ts, vs


def refusal(ts: object, vs: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        validate_training_data(ts, vs, limits=LIMITS)  # type: ignore[arg-type]
    return caught.value


@PROPS
@given(valid_series(), st.booleans())
def test_valid_series_is_accepted_and_round_trips(series: tuple, as_lists: bool) -> None:
    ts, vs = series
    data = validate_training_data(
        ts.tolist() if as_lists else ts, vs.tolist() if as_lists else vs, limits=LIMITS
    )
    assert len(data) == len(vs)
    assert data.timestamps.dtype == np.float64 and data.values.dtype == np.float64
    assert np.array_equal(data.timestamps, ts) and np.array_equal(data.values, vs)


@PROPS
@given(valid_series(), st.data())
def test_broken_timestamp_order_names_rule_and_index(series: tuple, data: st.DataObject) -> None:
    ts, vs = series
    i = data.draw(st.integers(1, len(ts) - 1), label="index")
    duplicate = data.draw(st.booleans(), label="duplicate")
    ts = ts.copy()
    ts[i] = ts[i - 1] if duplicate else ts[i - 1] - data.draw(st.integers(1, 10**6))
    error = refusal(ts.tolist(), vs)
    assert error.rule == ("duplicate_timestamp" if duplicate else "strictly_increasing")
    assert error.loc == ("body", "timestamps", i)


@PROPS
@given(
    valid_series(),
    st.data(),
    st.sampled_from(["timestamps", "values"]),
    st.sampled_from([float("nan"), float("inf"), float("-inf")]),
)
def test_non_finite_item_names_first_index(
    series: tuple, data: st.DataObject, field: str, bad: float
) -> None:
    ts, vs = series
    n = len(vs)
    where = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=3), label="where")
    target = (ts if field == "timestamps" else vs).copy()
    target[sorted(where)] = bad
    error = refusal(target, vs) if field == "timestamps" else refusal(ts, target)
    assert error.rule == "finite_values"
    assert error.loc == ("body", field, min(where))


JUNK = [True, False, None, "yesterday", "2024-13-01T00:00:00", "", [], b"0", "1700000000"]


@PROPS
@given(valid_series(), st.data(), st.sampled_from(JUNK), st.booleans())
def test_unparsable_timestamp_names_its_index(
    series: tuple, data: st.DataObject, junk: object, as_text: bool
) -> None:
    ts, vs = series
    raw: list[object] = [_iso(t) for t in ts] if as_text else ts.tolist()
    i = data.draw(st.integers(0, len(raw) - 1), label="index")
    raw[i] = junk
    error = refusal(raw, vs)
    assert (error.rule, error.loc) == ("timestamp_format", ("body", "timestamps", i))


@PROPS
@given(st.integers(0, 3 * LIMITS.max_points), st.integers(0, 3))
def test_point_count_and_length_rules(n: int, missing: int) -> None:
    ts = [1_700_000_000.0 + i for i in range(n)]
    vs = [float(i % 7) for i in range(n)]
    if missing and n >= missing:
        error = refusal(ts[missing:], vs)
        assert (error.rule, error.loc) == ("length_mismatch", ("body", "timestamps"))
    elif n < LIMITS.min_points or n > LIMITS.max_points:
        error = refusal(ts, vs)
        expected = "min_points" if n < LIMITS.min_points else "max_points"
        assert (error.rule, error.loc) == (expected, ("body", "values"))
    else:
        assert len(validate_training_data(ts, vs, limits=LIMITS)) == n


@PROPS
@given(valid_series(), VALUE)
def test_constant_series_is_refused(series: tuple, constant: float) -> None:
    ts, vs = series
    error = refusal(ts, np.full_like(vs, constant))
    assert (error.rule, error.loc) == ("min_std", ("body", "values"))


def test_large_constant_series_is_refused() -> None:
    ts = [1_700_000_000.0 + i for i in range(10)]
    assert refusal(ts, [1e15 + 0.1] * 10).rule == "min_std"


def test_huge_integer_timestamp_is_refused_as_invalid_input() -> None:
    error = refusal([10**400, *range(1, 10)], [float(i) for i in range(10)])
    assert error.loc == ("body", "timestamps", 0)


def _iso(epoch: float) -> str:
    return (EPOCH + timedelta(milliseconds=round(epoch * 1000))).isoformat()


OFFSETS = st.sampled_from([0, 60, 330, -180, -720, 840, 1439, -1439])


@PROPS
@given(
    st.datetimes(datetime(1900, 1, 1), datetime(2200, 1, 1)),
    st.lists(st.integers(1, 10**6), min_size=LIMITS.min_points - 1, max_size=20),
    st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds"]),
    OFFSETS,
    st.sampled_from(["T", " "]),
    st.booleans(),
)
def test_iso_text_and_epoch_numbers_of_same_instants_agree(
    start: datetime, steps: list[int], spec: str, offset: int, sep: str, zulu: bool
) -> None:
    unit = {"minutes": 60_000_000, "seconds": 1_000_000, "milliseconds": 1000}.get(spec, 1)
    start -= timedelta(microseconds=(start.second * 10**6 + start.microsecond) % unit)
    base = start.replace(tzinfo=timezone(timedelta(minutes=offset)))
    micros = np.cumsum([0, *steps]) * unit
    moments = [base + timedelta(microseconds=int(m)) for m in micros]
    texts = [m.isoformat(sep=sep, timespec=spec) for m in moments]
    if zulu and offset == 0:
        texts = [t.replace("+00:00", "Z") for t in texts]
    # Epoch seconds by exact integer arithmetic, one correctly rounded division.
    epochs = [((m - EPOCH) // timedelta(microseconds=1)) / 10**6 for m in moments]
    vs = [float(i % 3) for i in range(len(texts))]
    from_text = validate_training_data(texts, vs, limits=LIMITS).timestamps
    from_numbers = validate_training_data(epochs, vs, limits=LIMITS).timestamps
    assert np.array_equal(from_text, from_numbers)
    one_by_one = [parse_timestamp(t, loc=()) for t in texts]
    assert np.array_equal(parse_timestamps(texts), np.asarray(one_by_one))


@PROPS
@given(st.text(max_size=40) | st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.+Z-]{0,20}"))
def test_parse_timestamp_returns_a_float_or_raises_invalid_input(text: str) -> None:
    try:
        parsed = parse_timestamp(text, loc=("x", 7))
    except InvalidInput as error:
        assert (error.rule, error.loc) == ("timestamp_format", ("x", 7))
    else:
        assert isinstance(parsed, float)
        assert np.array_equal(parse_timestamps([text, text]), [parsed, parsed])


SERIES_ID = re.compile(SERIES_ID_PATTERN)
VERSION = re.compile(r"[vV]?[1-9][0-9]{0,9}")
NASTY_IDS = ["../../etc/passwd", "/", "%2F", "a/b", "a\x00", "é", "a" * 128, "a" * 129, "", ".a"]


def _known_newline_bug(pattern: re.Pattern[str], text: object) -> bool:
    """``$`` under re.match would also match before a final newline: fullmatch is used."""
    return isinstance(text, str) and text.endswith("\n") and bool(pattern.fullmatch(text[:-1]))


@PROPS
@given(st.from_regex(SERIES_ID_PATTERN, fullmatch=True))
def test_every_id_matching_the_pattern_is_accepted(series_id: str) -> None:
    assert check_series_id(series_id) == series_id


def near_misses(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Valid text with something spliced in front or behind: a newline, a slash, NUL, ..."""
    junk = st.sampled_from(["\n", "/", "\x00", "/../x", " ", "%2F", "\u00e9", "\t", "\r\n"])
    return st.tuples(valid, junk, st.booleans()).map(lambda t: t[0] + t[1] if t[2] else t[1] + t[0])


@PROPS
@given(
    st.text(max_size=140)
    | st.sampled_from(NASTY_IDS)
    | near_misses(st.from_regex(SERIES_ID_PATTERN, fullmatch=True))
)
@example("a" * 129)
def test_ids_accepted_exactly_when_they_fullmatch(series_id: str) -> None:
    assume(not _known_newline_bug(SERIES_ID, series_id))
    try:
        accepted = check_series_id(series_id, loc=("q",)) == series_id
    except InvalidInput as error:
        assert (error.rule, error.loc) == ("series_id_pattern", ("q",))
        accepted = False
    assert accepted == (SERIES_ID.fullmatch(series_id) is not None)
    if accepted:
        assert "/" not in series_id and not series_id.startswith(".") and len(series_id) <= 128


@PROPS
@given(st.integers(1, MAX_VERSION), st.sampled_from(["", "v", "V"]))
def test_version_number_text_and_v_forms_agree(number: int, prefix: str) -> None:
    assert parse_version(number) == number
    assert parse_version(f"{prefix}{number}") == number


@PROPS
@given(
    st.text(max_size=14)
    | st.integers(max_value=0)
    | st.sampled_from([True, False, 5.0])
    | near_misses(st.from_regex(VERSION, fullmatch=True))
)
@example("05")
@example("v-1")
@example("12345678901")
@example("\u0665")
def test_other_version_labels_are_refused(label: object) -> None:
    assume(not _known_newline_bug(VERSION, label))
    valid = isinstance(label, str) and VERSION.fullmatch(label)
    if valid:
        assert parse_version(label) == int(label.lstrip("vV"))  # type: ignore[union-attr]
        return
    with pytest.raises(InvalidInput) as caught:
        parse_version(label, loc=("v",))  # type: ignore[arg-type]
    assert (caught.value.rule, caught.value.loc) == ("version_format", ("v",))


@pytest.mark.parametrize(
    "check",
    [
        lambda: check_series_id("abc\n"),
        lambda: check_series_id("x" * 128 + "\n"),
        lambda: parse_version("v5\n"),
    ],
    ids=["id", "longest_id", "version"],
)
def test_trailing_newline_is_refused(check: Any) -> None:
    with pytest.raises(InvalidInput):
        check()
