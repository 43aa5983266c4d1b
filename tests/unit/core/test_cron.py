"""Five-field cron in UTC: next and previous fires, Vixie's day rule, names, bad expressions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seriesguard.core.cron import CronSchedule
from seriesguard.core.errors import InvalidInput


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M %a")


def fires(expression: str, start: str, count: int) -> list[str]:
    schedule = CronSchedule.parse(expression)
    found, t = [], at(start)
    for _ in range(count):
        t = schedule.next_after(t)
        found.append(iso(t))
    return found


def test_weekly_retraining_fires_sundays_at_two() -> None:
    assert fires("0 2 * * 0", "2024-05-15T12:00:00", 3) == [
        "2024-05-19 02:00 Sun",
        "2024-05-26 02:00 Sun",
        "2024-06-02 02:00 Sun",
    ]


def test_next_is_strictly_after_and_previous_is_at_or_before() -> None:
    schedule = CronSchedule.parse("0 2 * * 0")
    fire = at("2024-05-19T02:00:00")
    assert schedule.next_after(fire) == at("2024-05-26T02:00:00")
    assert schedule.next_after(fire - 0.5) == fire
    assert schedule.previous_at_or_before(fire) == fire
    assert schedule.previous_at_or_before(fire + 59.9) == fire
    assert schedule.previous_at_or_before(fire - 1) == at("2024-05-12T02:00:00")


def test_drift_every_six_hours_crosses_midnight_and_month_end() -> None:
    assert fires("0 */6 * * *", "2024-01-31T19:30:00", 3) == [
        "2024-02-01 00:00 Thu",
        "2024-02-01 06:00 Thu",
        "2024-02-01 12:00 Thu",
    ]


def test_month_ends_and_leap_days() -> None:
    assert fires("0 0 31 * *", "2024-01-31T00:00:00", 3) == [
        "2024-03-31 00:00 Sun",  # February and April have no 31st
        "2024-05-31 00:00 Fri",
        "2024-07-31 00:00 Wed",
    ]
    assert fires("0 0 29 2 *", "2024-03-01T00:00:00", 1) == ["2028-02-29 00:00 Tue"]
    assert fires("59 23 * * *", "2024-12-31T23:59:00", 1) == ["2025-01-01 23:59 Wed"]


def test_day_fields_or_when_both_restricted_and_when_one_is_a_star() -> None:
    # Vixie: 1st of the month OR a Monday
    assert fires("0 0 1 * mon", "2024-05-28T00:00:00", 3) == [
        "2024-06-01 00:00 Sat",
        "2024-06-03 00:00 Mon",
        "2024-06-10 00:00 Mon",
    ]
    # "*/2" starts with "*": the day of month field does not widen the Mondays
    assert fires("0 0 */2 * 1", "2024-06-01T00:00:00", 2) == [
        "2024-06-03 00:00 Mon",
        "2024-06-17 00:00 Mon",
    ]


def test_sunday_is_zero_and_seven_and_names_work() -> None:
    assert fires("0 3 * * 7", "2024-05-15T00:00:00", 1) == fires(
        "0 3 * * SUN", "2024-05-15T00:00:00", 1
    )
    assert fires("0 3 * * 0", "2024-05-15T00:00:00", 1) == ["2024-05-19 03:00 Sun"]
    assert fires("30 9 * jan-mar/2 mon-fri", "2024-02-29T10:00:00", 1) == ["2024-03-01 09:30 Fri"]


def test_ranges_steps_lists_and_shortcuts() -> None:
    schedule = CronSchedule.parse("1,15,30-40/5 9-17/4 * * *")
    assert schedule.minutes == (1, 15, 30, 35, 40)
    assert schedule.hours == (9, 13, 17)
    assert CronSchedule.parse("5/20 * * * *").minutes == (5, 25, 45)
    weekly = CronSchedule.parse("@weekly")
    assert weekly.expression == "@weekly"  # shown as written
    assert replace(weekly, expression="0 0 * * 0") == CronSchedule.parse("0 0 * * 0")
    assert CronSchedule.parse("  0   2 * *  0 ").expression == "0 2 * * 0"


@pytest.mark.parametrize(
    ("expression", "field", "words"),
    [
        ("0 2 * *", None, "five are needed"),
        ("0 2 * * 0 0", None, "five are needed"),
        ("60 * * * *", "minute", "out of range"),
        ("0 24 * * *", "hour", "out of range"),
        ("0 0 0 * *", "day_of_month", "out of range"),
        ("0 0 * 13 *", "month", "out of range"),
        ("0 0 * * 8", "day_of_week", "out of range"),
        ("*/0 * * * *", "minute", "step"),
        ("0 5-2 * * *", "hour", "backwards"),
        ("0 0 * foo *", "month", "not a number or a name"),
        ("x * * * *", "minute", "not a number"),
        ("0 0 30 2 *", "day_of_month", "never fires"),
        ("0 0 31 4,6 *", "day_of_month", "never fires"),
    ],
)
def test_invalid_expressions_name_the_field(expression: str, field: str | None, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        CronSchedule.parse(expression)
    assert caught.value.rule == "cron_expression"
    assert caught.value.loc == (("cron", field) if field else ("cron",))
    assert words in caught.value.message


def test_settings_refuse_a_bad_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from seriesguard.settings import Settings

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.setenv("SERIESGUARD_DRIFT_SCHEDULE", "0 */6 * *")
    with pytest.raises(ValidationError, match="drift_schedule"):
        Settings()
    monkeypatch.setenv("SERIESGUARD_DRIFT_SCHEDULE", "")  # empty: the task is off
    assert Settings().drift_schedule == ""


@settings(max_examples=200, deadline=None)
@given(
    expression=st.sampled_from(
        ["0 2 * * 0", "0 */6 * * *", "*/7 * * * *", "0 0 1 * mon", "15 3 29 2 *", "0 0 31 * *"]
    ),
    t=st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False),
)
def test_next_and_previous_agree_and_nothing_fires_between(expression: str, t: float) -> None:
    schedule = CronSchedule.parse(expression)
    following = schedule.next_after(t)
    before = schedule.previous_at_or_before(t)
    assert before <= t < following
    assert following % 60 == 0 and before % 60 == 0
    assert schedule.next_after(before) == following  # no fire strictly between them
    assert schedule.previous_at_or_before(following - 1) == before
