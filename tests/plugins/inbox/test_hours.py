"""Business hours: wall-clock intervals per weekday, midnight crossings, holidays, daylight saving, validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import msgspec
import pytest

from plugins.inbox.hours import (
    DAYS,
    BusinessHours,
    Interval,
    default_hours,
    is_open,
    next_opening,
    validate,
)

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
NEW_YORK = ZoneInfo("America/New_York")
SANTIAGO = ZoneInfo("America/Santiago")


def hours(zone: str = "America/Sao_Paulo", **week: list[tuple[str, str]]) -> BusinessHours:
    """A schedule in ``zone`` from ``(start, end)`` pairs per weekday: ``hours(mon=[("08:00", "18:00")])``."""
    return BusinessHours(
        timezone=zone, week={day: [Interval(start, end) for start, end in pairs] for day, pairs in week.items()}
    )


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# 2025-03-17 is a Monday; 2025-03-21 a Friday, 2025-03-22 a Saturday, 2025-03-23 a Sunday.
MONDAY, FRIDAY, SATURDAY, SUNDAY = date(2025, 3, 17), date(2025, 3, 21), date(2025, 3, 22), date(2025, 3, 23)


def at(day: date, hour: int, minute: int = 0, zone: ZoneInfo = SAO_PAULO) -> datetime:
    """A wall-clock time of ``zone`` (the first reading, when clocks go back over it)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


# -- default hours ---------------------------------------------------------------------------------


def test_the_default_is_weekdays_eight_to_six_and_saturday_morning_in_sao_paulo() -> None:
    default = default_hours()

    assert default.timezone == "America/Sao_Paulo"
    assert {day: [(i.start, i.end) for i in default.week[day]] for day in DAYS} == {
        "mon": [("08:00", "18:00")],
        "tue": [("08:00", "18:00")],
        "wed": [("08:00", "18:00")],
        "thu": [("08:00", "18:00")],
        "fri": [("08:00", "18:00")],
        "sat": [("08:00", "12:00")],
        "sun": [],
    }
    assert default.closed_dates == [] and default.always_open is False
    assert validate(default) == []


@pytest.mark.parametrize(
    ("moment", "open_"),
    [
        (at(MONDAY, 7, 59), False),
        (at(MONDAY, 8, 0), True),
        (at(MONDAY, 17, 59), True),
        (at(MONDAY, 18, 0), False),
        (at(SATURDAY, 11, 59), True),
        (at(SATURDAY, 12, 0), False),
        (at(SUNDAY, 10, 0), False),
    ],
)
def test_the_default_hours_open_and_close_on_the_minute(moment: datetime, open_: bool) -> None:
    assert is_open(default_hours(), moment) is open_


def test_the_schedule_is_read_on_its_own_wall_clock_whatever_the_zone_of_the_moment() -> None:
    # 11:00 UTC is 08:00 in São Paulo (UTC-3): open, however the same instant is written.
    instant = utc(2025, 3, 17, 11, 0)

    assert is_open(default_hours(), instant)
    assert is_open(default_hours(), instant.astimezone(ZoneInfo("Asia/Tokyo")))
    assert is_open(default_hours(), instant.astimezone(timezone(timedelta(hours=-3))))
    assert not is_open(default_hours(), instant - timedelta(minutes=1))


def test_a_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError):
        is_open(default_hours(), datetime(2025, 3, 17, 9, 0))
    with pytest.raises(ValueError):
        next_opening(default_hours(), datetime(2025, 3, 17, 9, 0))


def test_a_day_can_have_a_lunch_break() -> None:
    schedule = hours(mon=[("08:00", "12:00"), ("13:00", "18:00")])

    assert is_open(schedule, at(MONDAY, 11, 59))
    assert not is_open(schedule, at(MONDAY, 12, 30))
    assert next_opening(schedule, at(MONDAY, 12, 30)) == at(MONDAY, 13, 0)


def test_a_day_left_out_of_the_week_is_closed() -> None:
    assert not is_open(hours(mon=[("08:00", "18:00")]), at(MONDAY + timedelta(days=1), 10))


# -- midnight --------------------------------------------------------------------------------------


@pytest.mark.parametrize("midnight", ["24:00", "00:00"])
def test_an_interval_ending_at_midnight_runs_to_the_end_of_the_day(midnight: str) -> None:
    schedule = hours(fri=[("18:00", midnight)])

    assert is_open(schedule, at(FRIDAY, 23, 59))
    assert not is_open(schedule, at(SATURDAY, 0, 0))
    assert validate(schedule) == []


def test_midnight_to_midnight_is_the_whole_day() -> None:
    schedule = hours(mon=[("00:00", "24:00")], tue=[("00:00", "00:00")])

    assert is_open(schedule, at(MONDAY, 0, 0))
    assert is_open(schedule, at(MONDAY, 23, 59))
    assert is_open(schedule, at(MONDAY + timedelta(days=1), 12, 0))
    assert not is_open(schedule, at(MONDAY + timedelta(days=2), 0, 0))


def test_an_interval_crossing_midnight_runs_into_the_next_day() -> None:
    schedule = hours(fri=[("22:00", "02:00")])

    assert not is_open(schedule, at(FRIDAY, 21, 59))
    assert is_open(schedule, at(FRIDAY, 22, 0))
    assert is_open(schedule, at(SATURDAY, 1, 59))
    assert not is_open(schedule, at(SATURDAY, 2, 0))
    # It belongs to Friday: on the night from Thursday, nothing is open.
    assert not is_open(schedule, at(FRIDAY, 1, 0))


def test_sundays_night_shift_runs_into_monday() -> None:
    schedule = hours(sun=[("22:00", "02:00")])

    assert is_open(schedule, at(MONDAY, 1, 59))
    assert not is_open(schedule, at(MONDAY, 2, 0))
    assert next_opening(schedule, at(MONDAY, 2, 0)) == at(SUNDAY, 22, 0)


def test_an_open_crossing_interval_makes_next_opening_now() -> None:
    schedule = hours(fri=[("22:00", "02:00")])
    moment = at(SATURDAY, 1, 30)

    assert next_opening(schedule, moment) is moment


# -- closed dates ----------------------------------------------------------------------------------


def test_a_closed_date_closes_its_whole_local_day() -> None:
    # 2025-12-25 is a Thursday.
    schedule = msgspec.structs.replace(
        hours(thu=[("08:00", "23:00")], fri=[("08:00", "18:00")]), closed_dates=[date(2025, 12, 25)]
    )

    assert not is_open(schedule, at(date(2025, 12, 25), 12, 0, SAO_PAULO))
    # 01:30 UTC on the 26th is still the 25th, 22:30, in São Paulo.
    assert not is_open(schedule, utc(2025, 12, 26, 1, 30))
    assert is_open(schedule, at(date(2025, 12, 18), 22, 30, SAO_PAULO))
    assert is_open(schedule, at(date(2025, 12, 26), 12, 0, SAO_PAULO))


def test_a_closed_date_does_not_start_its_interval_across_midnight() -> None:
    schedule = msgspec.structs.replace(hours(fri=[("22:00", "02:00")]), closed_dates=[FRIDAY])

    assert not is_open(schedule, at(FRIDAY, 23, 0))
    assert not is_open(schedule, at(SATURDAY, 1, 0))


def test_the_interval_that_started_the_evening_before_runs_into_a_closed_date() -> None:
    schedule = msgspec.structs.replace(
        hours(fri=[("22:00", "02:00")], sat=[("08:00", "12:00")]), closed_dates=[SATURDAY]
    )

    assert is_open(schedule, at(SATURDAY, 1, 59))
    assert not is_open(schedule, at(SATURDAY, 2, 0))
    assert not is_open(schedule, at(SATURDAY, 9, 0))


def test_next_opening_skips_closed_dates() -> None:
    schedule = msgspec.structs.replace(default_hours(), closed_dates=[MONDAY, MONDAY + timedelta(days=1)])

    assert next_opening(schedule, at(SUNDAY - timedelta(days=7), 9, 0)) == at(MONDAY + timedelta(days=2), 8, 0)


# -- always open -----------------------------------------------------------------------------------


def test_always_open_is_open_at_any_time_even_on_closed_dates() -> None:
    schedule = BusinessHours(always_open=True, closed_dates=[SUNDAY])

    assert all(is_open(schedule, at(SUNDAY, hour)) for hour in range(24))
    assert is_open(schedule, at(MONDAY, 3, 0))
    moment = at(SUNDAY, 3, 0)
    assert next_opening(schedule, moment) is moment


# -- next opening ----------------------------------------------------------------------------------


def test_next_opening_is_the_moment_itself_when_open() -> None:
    moment = utc(2025, 3, 17, 15, 0)

    assert next_opening(default_hours(), moment) is moment


@pytest.mark.parametrize(
    ("moment", "opening"),
    [
        (at(MONDAY, 6, 30), at(MONDAY, 8, 0)),
        (at(MONDAY, 18, 0), at(MONDAY + timedelta(days=1), 8, 0)),
        (at(FRIDAY, 19, 0), at(SATURDAY, 8, 0)),
        (at(SATURDAY, 12, 0), at(MONDAY + timedelta(days=7), 8, 0)),
        (at(SUNDAY, 23, 59), at(MONDAY + timedelta(days=7), 8, 0)),
    ],
)
def test_next_opening_is_the_start_of_the_next_interval(moment: datetime, opening: datetime) -> None:
    found = next_opening(default_hours(), moment)

    assert found == opening
    assert found is not None and found.tzinfo == SAO_PAULO


def test_next_opening_answers_in_the_schedules_zone() -> None:
    found = next_opening(default_hours(), utc(2025, 3, 17, 9, 0))

    assert found is not None
    assert (found.tzinfo, found.hour, found.minute) == (SAO_PAULO, 8, 0)
    assert found == utc(2025, 3, 17, 11, 0)


def test_a_schedule_that_never_opens_has_no_next_opening() -> None:
    assert next_opening(BusinessHours(), at(MONDAY, 9, 0)) is None
    assert not is_open(BusinessHours(), at(MONDAY, 9, 0))


def test_next_opening_looks_fourteen_days_ahead_and_no_further() -> None:
    mondays_only = hours(mon=[("08:00", "18:00")])
    one_closed = msgspec.structs.replace(mondays_only, closed_dates=[MONDAY + timedelta(days=7)])
    two_closed = msgspec.structs.replace(mondays_only, closed_dates=[MONDAY + timedelta(days=7 * n) for n in (1, 2)])
    after_hours = at(MONDAY, 18, 0)

    assert next_opening(one_closed, after_hours) == at(MONDAY + timedelta(days=14), 8, 0)
    assert next_opening(two_closed, after_hours) is None


# -- daylight saving time --------------------------------------------------------------------------
# New York: on 2025-03-09 clocks jump from 02:00 to 03:00 EDT; on 2025-11-02 they go back from 02:00 to 01:00 EST.
# Santiago: on 2025-09-07 they jump from 00:00 to 01:00.


def test_office_hours_follow_the_wall_clock_across_a_spring_change() -> None:
    office = hours("America/New_York", **{day: [("09:00", "17:00")] for day in DAYS[:5]})

    # 13:30 UTC is 08:30 on the Friday before the change (EST, UTC-5) and 09:30 the Monday after (EDT, UTC-4).
    assert not is_open(office, utc(2025, 3, 7, 13, 30))
    assert is_open(office, utc(2025, 3, 10, 13, 30))
    assert next_opening(office, at(date(2025, 3, 7), 18, 0, NEW_YORK)) == utc(2025, 3, 10, 13, 0)


def test_an_opening_the_clocks_jump_over_is_the_jump() -> None:
    schedule = hours("America/New_York", sun=[("02:30", "05:00")])

    opening = next_opening(schedule, utc(2025, 3, 9, 5, 0))

    assert opening == utc(2025, 3, 9, 7, 0)
    assert opening is not None and (opening.hour, opening.minute) == (3, 0)
    assert is_open(schedule, opening)
    # A second before, in UTC: arithmetic on a zoned datetime moves its wall clock, into the gap.
    assert not is_open(schedule, opening.astimezone(UTC) - timedelta(seconds=1))


def test_an_interval_the_clocks_jump_over_whole_opens_the_next_week() -> None:
    schedule = hours("America/New_York", sun=[("02:10", "02:50")])

    assert next_opening(schedule, utc(2025, 3, 9, 5, 0)) == at(date(2025, 3, 16), 2, 10, NEW_YORK)


def test_a_time_the_clocks_go_back_over_opens_twice() -> None:
    schedule = hours("America/New_York", sun=[("01:30", "01:45")])

    # 05:30 UTC is the first 01:30 (EDT); 06:30 UTC the second (EST).
    assert is_open(schedule, utc(2025, 11, 2, 5, 30))
    assert not is_open(schedule, utc(2025, 11, 2, 5, 50))
    opening = next_opening(schedule, utc(2025, 11, 2, 5, 50))

    # Compared in UTC: Python never calls a repeated wall time equal to a time of another zone.
    assert opening is not None and opening.astimezone(UTC) == utc(2025, 11, 2, 6, 30)
    assert (opening.hour, opening.minute, opening.fold) == (1, 30, 1)
    next_week = next_opening(schedule, utc(2025, 11, 2, 6, 45))
    assert next_week is not None and next_week.astimezone(UTC) == utc(2025, 11, 9, 6, 30)


def test_a_night_shift_across_the_autumn_change_lasts_by_the_wall_clock() -> None:
    schedule = hours("America/New_York", sat=[("22:00", "02:00")])

    # Saturday 22:00 EDT (02:00 UTC) to Sunday 02:00 EST (07:00 UTC): five hours that night.
    assert not is_open(schedule, utc(2025, 11, 2, 1, 59))
    assert is_open(schedule, utc(2025, 11, 2, 2, 0))
    assert is_open(schedule, utc(2025, 11, 2, 6, 59))
    assert not is_open(schedule, utc(2025, 11, 2, 7, 0))


def test_a_midnight_opening_santiago_skips_opens_at_one() -> None:
    schedule = hours("America/Santiago", sat=[("20:00", "24:00")], sun=[("00:00", "06:00")])

    # Saturday 23:30 (UTC-4) is open; Sunday's midnight never comes, the clocks read 01:00 (UTC-3) instead.
    assert is_open(schedule, at(date(2025, 9, 6), 23, 30, SANTIAGO))
    assert is_open(schedule, utc(2025, 9, 7, 4, 0))
    closed_saturday = msgspec.structs.replace(schedule, closed_dates=[date(2025, 9, 6)])
    assert next_opening(closed_saturday, at(date(2025, 9, 6), 23, 30, SANTIAGO)) == utc(2025, 9, 7, 4, 0)


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("8:00", "18:00"),
        ("08:00", "18:0"),
        ("25:00", "26:00"),
        ("12:60", "13:00"),
        ("24:00", "02:00"),
        ("08:00", "24:01"),
        ("", "18:00"),
        ("08h", "18h"),
        ("08:00 ", "18:00"),
    ],
)
def test_times_that_are_not_hh_mm_are_invalid(start: str, end: str) -> None:
    assert validate(hours(mon=[("08:00", "10:00"), (start, end)])) == ["week.mon[1]: invalid_time"]


def test_an_interval_ending_when_it_starts_is_empty() -> None:
    assert validate(hours(wed=[("09:00", "09:00")])) == ["week.wed[0]: empty_interval"]


def test_overlapping_intervals_of_a_day_are_reported_at_the_later_one() -> None:
    assert validate(hours(mon=[("08:00", "12:00"), ("11:00", "14:00")])) == ["week.mon[1]: overlap"]
    assert validate(hours(mon=[("13:00", "18:00"), ("08:00", "14:00")])) == ["week.mon[0]: overlap"]
    assert validate(hours(mon=[("08:00", "18:00"), ("09:00", "10:00"), ("11:00", "12:00")])) == [
        "week.mon[1]: overlap",
        "week.mon[2]: overlap",
    ]


def test_touching_intervals_do_not_overlap() -> None:
    assert validate(hours(mon=[("13:00", "18:00"), ("08:00", "13:00")], tue=[("18:00", "08:00")])) == []


def test_a_night_shift_overlapping_the_next_mornings_interval_is_reported() -> None:
    assert validate(hours(mon=[("22:00", "02:00")], tue=[("01:00", "05:00")])) == ["week.tue[0]: overlap"]
    assert validate(hours(sun=[("22:00", "02:00")], mon=[("01:00", "05:00")])) == ["week.mon[0]: overlap"]
    assert validate(hours(sun=[("22:00", "02:00")], mon=[("02:00", "05:00")])) == []


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "localtime", "Factory", "america/sao_paulo"])
def test_an_unknown_time_zone_is_reported(name: str) -> None:
    assert validate(msgspec.structs.replace(default_hours(), timezone=name)) == ["timezone: unknown_timezone"]


def test_an_unknown_weekday_is_reported() -> None:
    schedule = BusinessHours(week={"monday": [Interval("08:00", "18:00")], "mon": [Interval("08:00", "18:00")]})

    assert validate(schedule) == ["week.monday: unknown_day"]


def test_every_problem_is_reported_at_once_in_a_stable_order() -> None:
    schedule = BusinessHours(
        timezone="Nowhere/City",
        week={
            "fri": [Interval("09:00", "09:00")],
            "mon": [Interval("08:00", "12:00"), Interval("7:00", "9:00"), Interval("10:00", "11:00")],
            "feriado": [],
        },
    )

    assert validate(schedule) == [
        "timezone: unknown_timezone",
        "week.feriado: unknown_day",
        "week.mon[1]: invalid_time",
        "week.fri[0]: empty_interval",
        "week.mon[2]: overlap",
    ]


def test_what_validation_refuses_is_skipped_when_reading() -> None:
    schedule = BusinessHours(timezone="Nowhere/City", week={"mon": [Interval("8h", "18h"), Interval("09:00", "10:00")]})

    # An unknown zone reads as UTC; the unreadable interval is left out, the good one still counts.
    assert is_open(schedule, utc(2025, 3, 17, 9, 30))
    assert not is_open(schedule, utc(2025, 3, 17, 8, 30))


# -- as settings -----------------------------------------------------------------------------------


def test_the_hours_decode_from_json_with_dates_and_refuse_unknown_fields() -> None:
    payload = b"""{
        "timezone": "America/Recife",
        "week": {"mon": [{"start": "08:00", "end": "17:00"}]},
        "closed_dates": ["2025-12-25"]
    }"""

    decoded = msgspec.json.decode(payload, type=BusinessHours)

    assert decoded == BusinessHours(
        timezone="America/Recife", week={"mon": [Interval("08:00", "17:00")]}, closed_dates=[date(2025, 12, 25)]
    )
    assert msgspec.json.decode(msgspec.json.encode(decoded), type=BusinessHours) == decoded
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"alway_open": true}', type=BusinessHours)
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(
            b'{"week": {"mon": [{"start": "08:00", "end": "17:00", "lunch": "12:00"}]}}', type=BusinessHours
        )
