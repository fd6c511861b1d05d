"""Business hours of a tenant (and later of a team): when people answer, by the wall clock of their zone.

Each weekday has intervals of ``"HH:MM"`` times. An interval ending at ``"24:00"`` (or ``"00:00"``, which a
time picker offers for midnight) runs to the end of the day; one ending before it starts crosses midnight
(``22:00``-``02:00``) and belongs to the day it starts: on a closed date it does not start, and it still
runs into a closed date that follows. Times are read on the wall clock, so a schedule means the same
hours in summer and in winter; around a daylight-saving change, :func:`next_opening` gives the instant the
wall clock first reaches the opening time.

The structs are settings (validated with :func:`validate` before they are saved); the functions never fail
on a schedule that slipped through: an unreadable interval is skipped and an unknown zone reads as UTC.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

import msgspec

__all__ = [
    "DAYS",
    "HORIZON",
    "BusinessHours",
    "Interval",
    "default_hours",
    "is_open",
    "next_opening",
    "validate",
]

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Weekday keys of :attr:`BusinessHours.week`, Monday first (``date.weekday()`` order)."""
HORIZON = timedelta(days=14)
"""How far ahead :func:`next_opening` looks: a schedule closed for longer than this says "no date"."""
DEFAULT_TIMEZONE = "America/Sao_Paulo"

_DAY = 24 * 60
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})
"""Names in the system's time zone database that are not places (``localtime`` is the server's own)."""


class Interval(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """From ``start`` to ``end`` (``"HH:MM"``); an ``end`` before ``start`` is on the next day."""

    start: str
    end: str


class BusinessHours(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """When a tenant answers: intervals per weekday in ``timezone``, minus holidays, or always.

    ``week`` maps ``"mon"`` to ``"sun"`` to that day's intervals; a day it leaves out is closed, so an empty
    week never opens. ``always_open`` overrides both the week and ``closed_dates``: it is the "we answer
    around the clock" switch, and must not be undone by holidays entered for a schedule no longer in use.
    """

    timezone: str = DEFAULT_TIMEZONE
    week: dict[str, list[Interval]] = msgspec.field(default_factory=dict)
    closed_dates: list[date] = msgspec.field(default_factory=list)
    always_open: bool = False


def default_hours() -> BusinessHours:
    """What a new tenant starts with: Monday to Friday 08:00-18:00, Saturday 08:00-12:00, São Paulo time."""
    weekday = [Interval("08:00", "18:00")]
    return BusinessHours(
        timezone=DEFAULT_TIMEZONE,
        week={day: list(weekday) for day in DAYS[:5]} | {"sat": [Interval("08:00", "12:00")], "sun": []},
    )


# -- validation ------------------------------------------------------------------------------------


def validate(hours: BusinessHours) -> list[str]:
    """What is wrong with ``hours``, as ``"<field path>: <code>"`` (``"week.mon[0]: invalid_time"``).

    The codes are stable, for forms to translate: ``unknown_timezone``, ``unknown_day``, ``invalid_time``
    (not ``HH:MM``, or ``24:00`` as a start), ``empty_interval`` (it ends when it starts) and ``overlap``
    (it starts before an earlier interval ends, that day's or, past midnight, the day before's). An empty
    list means the schedule is fine.
    """
    problems: list[str] = []
    if hours.timezone not in _time_zones():
        problems.append("timezone: unknown_timezone")
    problems.extend(f"week.{day}: unknown_day" for day in hours.week if day not in DAYS)
    spans: list[tuple[int, int, str]] = []
    for weekday, day in enumerate(DAYS):
        for index, interval in enumerate(hours.week.get(day, [])):
            path = f"week.{day}[{index}]"
            start, end = _start(interval.start), _end(interval.end)
            if start is None or end is None:
                problems.append(f"{path}: invalid_time")
            elif start == end:
                problems.append(f"{path}: empty_interval")
            else:
                offset = weekday * _DAY
                spans.append((offset + start, offset + _span_end(start, end), path))
    problems.extend(f"{path}: overlap" for path in _overlapping(spans))
    return problems


def _overlapping(spans: list[tuple[int, int, str]]) -> Iterator[str]:
    """The paths of the spans (minutes from Monday 00:00) that start before an earlier one ends.

    Sunday's interval crossing midnight runs into Monday: the week is a circle, so the spans are checked
    once more shifted a week on.
    """
    ordered = sorted(spans)
    wrapped = [*ordered, *((start + 7 * _DAY, end + 7 * _DAY, path) for start, end, path in ordered)]
    reported: set[str] = set()
    latest_end = 0
    for (_, end, _), (start, _, path) in itertools.pairwise(wrapped):
        latest_end = max(latest_end, end)
        if start < latest_end and path not in reported:
            reported.add(path)
            yield path


@lru_cache(maxsize=1)
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones() - _NOT_ZONES)


# -- reading ---------------------------------------------------------------------------------------


def is_open(hours: BusinessHours, at: datetime) -> bool:
    """Whether ``hours`` are open at ``at`` (timezone-aware), by the wall clock of the schedule's zone.

    A closed date closes its whole local day, except for an interval that started the evening before
    and has not ended yet.
    """
    _require_aware(at)
    if hours.always_open:
        return True
    local = at.astimezone(_zone(hours))
    today, minute = local.date(), local.hour * 60 + local.minute
    yesterday = today - timedelta(days=1)
    closed = set(hours.closed_dates)
    if today not in closed and any(start <= minute < end for start, end in _intervals(hours, today)):
        return True
    # Yesterday's intervals past midnight: minute 90 today is minute 1530 of yesterday.
    return yesterday not in closed and any(minute + _DAY < end for _, end in _intervals(hours, yesterday) if end > _DAY)


def next_opening(hours: BusinessHours, at: datetime) -> datetime | None:
    """The first moment at or after ``at`` when ``hours`` are open: ``at`` itself when they are open then.

    The answer is in the schedule's zone; ``None`` when they do not open within :data:`HORIZON`.
    """
    if is_open(hours, at):
        return at
    zone = _zone(hours)
    # Instants are compared in UTC: Python compares two times of one zone by their wall clocks, and those
    # repeat when clocks go back.
    now = at.astimezone(UTC)
    today = at.astimezone(zone).date()
    for offset in range(HORIZON.days + 1):
        day = today + timedelta(days=offset)
        if day in hours.closed_dates:
            continue
        openings = sorted(instant for start, _ in _intervals(hours, day) for instant in _instants(day, start, zone))
        for opening in openings:
            if opening - now > HORIZON:
                return None
            # The wall clock may never read an interval's times (a daylight-saving gap swallowed it): ask.
            if opening > now and is_open(hours, opening):
                return opening.astimezone(zone)
    return None


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("pass a timezone-aware datetime (datetime.now(UTC))")


def _zone(hours: BusinessHours) -> ZoneInfo:
    try:
        return ZoneInfo(hours.timezone)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return ZoneInfo("UTC")


def _intervals(hours: BusinessHours, day: date) -> list[tuple[int, int]]:
    """``day``'s readable intervals in minutes from its midnight; one past midnight ends after 1440."""
    intervals = []
    for interval in hours.week.get(DAYS[day.weekday()], []):
        start, end = _start(interval.start), _end(interval.end)
        if start is not None and end is not None and start != end:
            intervals.append((start, _span_end(start, end)))
    return sorted(intervals)


def _instants(day: date, minute: int, zone: ZoneInfo) -> list[datetime]:
    """Every instant (in UTC) the wall clock of ``zone`` reads ``minute`` of ``day``, or first passes it.

    Usually one. When clocks go back over that time it is read twice, and both count; when they go forward
    over it, it is never read: the instant that counts is the jump.
    """
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    # In a repeated hour fold=0 is the first reading and fold=1 the second; in a skipped hour, fold=0 reads
    # the time with the offset from before the jump (an instant after it) and fold=1 with the one after.
    first, second = wall.astimezone(UTC), wall.replace(fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if first.astimezone(zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return [first, second]
    return [_gap_end(second, first, zone)]


def _gap_end(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant (in UTC) clocks jump forward, between an instant ``before`` the jump and one ``after`` it.

    zoneinfo does not list its transitions; halving the span (an hour or two) down to the second takes a
    dozen steps.
    """
    low, high = int(before.timestamp()), int(after.timestamp())
    offset = after.astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


# -- times -----------------------------------------------------------------------------------------


def _start(text: str) -> int | None:
    """``"09:30"`` as 570; ``None`` when it is not a time of day."""
    match = _TIME.fullmatch(text) if isinstance(text, str) else None
    return int(match.group(1)) * 60 + int(match.group(2)) if match else None


def _end(text: str) -> int | None:
    """Like :func:`_start`, and ``"24:00"`` or ``"00:00"``, the midnight that ends a day, as 1440."""
    if text == "24:00":
        return _DAY
    minute = _start(text)
    return _DAY if minute == 0 else minute


def _span_end(start: int, end: int) -> int:
    """``end`` in minutes from the midnight ``start`` follows: past 1440 for an interval crossing midnight."""
    return end if end > start else end + _DAY
