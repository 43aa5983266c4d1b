"""Five-field cron expressions (minute hour day-of-month month day-of-week), in UTC.

Pure: parsing and "when is the next fire" only; the scheduler asks with a wall clock.

The syntax is Vixie cron's: ``*``, ``n``, ``a-b``, ``*/n``, ``a-b/n``, ``n/s`` (n to the end
of the range, every s), lists of those (``1,15,30-40/5``), month names (``jan``-``dec``) and
day names (``sun``-``sat``), day of week 0-7 with both 0 and 7 Sunday, and the shortcuts
``@hourly``, ``@daily``/``@midnight``, ``@weekly``, ``@monthly``, ``@yearly``/``@annually``.
When both day fields are restricted (neither starts with ``*``) a day matches if EITHER
matches, as in Vixie cron ("0 0 1 * mon": the 1st of each month and every Monday); a day
field that starts with ``*`` (``*/2`` too) leaves the other alone in charge.

UTC only, on purpose: a schedule in a local time zone fires twice or never around a DST
change; an operator who wants "2 am local" writes the UTC hour.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from seriesguard.core.errors import InvalidInput

FIELDS = ("minute", "hour", "day_of_month", "month", "day_of_week")
_RANGES = {
    "minute": (0, 59),
    "hour": (0, 23),
    "day_of_month": (1, 31),
    "month": (1, 12),
    "day_of_week": (0, 7),
}
_MONTHS = {name.lower(): n for n, name in enumerate(calendar.month_abbr) if name}
_DAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
_NAMES = {"month": _MONTHS, "day_of_week": _DAYS}
_SHORTCUTS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
# The rarest schedule that fires at all ("29 February, if a Sunday": the day fields joined by
# AND when the weekday field starts with "*", as in "*/7") fires every 28 years: 30 years of
# days always find one. A day costs a microsecond or so.
_SEARCH_DAYS = 366 * 30
_REFERENCE = 1_704_067_200.0  # 2024-01-01: a leap year, for the check that a schedule fires
_LOC_BASE = ("cron",)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed expression; :meth:`next_after` and :meth:`previous_at_or_before` answer in
    epoch seconds (UTC), at whole minutes."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday ... 6 = Saturday (7 folded into 0)
    dom_restricted: bool
    dow_restricted: bool

    @classmethod
    def parse(cls, expression: str, *, loc: tuple[str | int, ...] = _LOC_BASE) -> CronSchedule:
        """The schedule of ``expression``, or InvalidInput naming the field that is wrong
        (``rule="cron_expression"``, ``loc`` = ``loc`` + the field's name)."""
        text = " ".join(expression.split())
        parts = _SHORTCUTS.get(text.lower(), text).split(" ")
        if len(parts) != len(FIELDS):
            raise InvalidInput(
                f"cron expression {expression!r} has {len(parts)} field(s); five are needed: "
                "minute hour day-of-month month day-of-week",
                rule="cron_expression",
                loc=loc,
            )
        values = {
            name: _parse_field(part, name, loc=(*loc, name))
            for name, part in zip(FIELDS, parts, strict=True)
        }
        schedule = cls(
            expression=text,
            minutes=tuple(sorted(values["minute"])),
            hours=tuple(sorted(values["hour"])),
            days_of_month=frozenset(values["day_of_month"]),
            months=frozenset(values["month"]),
            days_of_week=frozenset(d % 7 for d in values["day_of_week"]),
            dom_restricted=not parts[2].startswith("*"),
            dow_restricted=not parts[4].startswith("*"),
        )
        schedule._check_it_fires(loc=loc)
        return schedule

    def next_after(self, t: float) -> float:
        """The first fire strictly after ``t``."""
        found = self._search_next(t)
        if found is None:  # parse checked that it fires; only a 30-year gap gets here
            raise ValueError(f"{self.expression!r} has no fire within 30 years after {t}")
        return found

    def _search_next(self, t: float) -> float | None:
        start = _minute_floor(t) + timedelta(minutes=1)
        for day in _days(start.date(), step=1):
            if not self.day_matches(day):
                continue
            first = day == start.date()
            for hour in self.hours:
                if first and hour < start.hour:
                    continue
                for minute in self.minutes:
                    if first and hour == start.hour and minute < start.minute:
                        continue
                    return _epoch(day, hour, minute)
        return None

    def previous_at_or_before(self, t: float) -> float:
        """The last fire at or before ``t``."""
        end = _minute_floor(t)
        for day in _days(end.date(), step=-1):
            if not self.day_matches(day):
                continue
            last = day == end.date()
            for hour in reversed(self.hours):
                if last and hour > end.hour:
                    continue
                for minute in reversed(self.minutes):
                    if last and hour == end.hour and minute > end.minute:
                        continue
                    return _epoch(day, hour, minute)
        raise ValueError(f"{self.expression!r} has no fire within 30 years before {t}")

    def day_matches(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days_of_month
        dow = (day.isoweekday() % 7) in self.days_of_week
        if self.dom_restricted and self.dow_restricted:
            return dom or dow  # Vixie: either day field may match
        return dom and dow  # one of them is "*...": it matches every day it allows

    def _check_it_fires(self, *, loc: tuple[str | int, ...]) -> None:
        """Refuse "0 0 30 2 *" (30 February) and the like: a schedule that never fires is a
        typo, and would leave its task silently idle."""
        if self._search_next(_REFERENCE) is None:
            raise InvalidInput(
                f"cron expression {self.expression!r} never fires (no day matches both its "
                "day of month and its month)",
                rule="cron_expression",
                loc=(*loc, "day_of_month"),
            )


def _parse_field(text: str, name: str, *, loc: tuple[str | int, ...]) -> set[int]:
    low, high = _RANGES[name]
    found: set[int] = set()
    for item in text.split(","):
        found.update(_parse_item(item, name, low=low, high=high, loc=loc))
    return found


def _parse_item(item: str, name: str, *, low: int, high: int, loc: tuple[str | int, ...]) -> range:
    def bad(why: str) -> InvalidInput:
        return InvalidInput(
            f"cron field {name} ({low}-{high}): {item!r} {why}", rule="cron_expression", loc=loc
        )

    span, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise bad("has a step that is not a positive whole number")
        step = int(step_text)
    if span == "*":
        first, last = low, high
    elif "-" in span:
        start, _, end = span.partition("-")
        first, last = _number(start, name, bad), _number(end, name, bad)
        if first > last:
            raise bad("is a range that runs backwards")
    else:
        first = _number(span, name, bad)
        last = high if slash else first  # "5/15": from 5 to the end, every 15 (Vixie)
    for value in (first, last):
        if not low <= value <= high:
            raise bad(f"is out of range ({value})")
    return range(first, last + 1, step)


def _number(text: str, name: str, bad: Callable[[str], InvalidInput]) -> int:
    names = _NAMES.get(name, {})
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise bad("is not a number" + (" or a name" if names else ""))
    return int(text)


def _minute_floor(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC).replace(second=0, microsecond=0)


def _days(start: date, *, step: int) -> Iterator[date]:
    day = start
    for _ in range(_SEARCH_DAYS):
        yield day
        day += timedelta(days=step)


def _epoch(day: date, hour: int, minute: int) -> float:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC).timestamp()
