"""When time triggers fire: crontab and RRULE patterns, start and end times, intervals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cloudplane.protection.triggers import (
    CALENDAR,
    CRONTAB,
    InvalidTrigger,
    TimeTrigger,
    check_trigger,
)

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def trigger(
    fmt: str, pattern: str, *, end: datetime | None = None, window_s: int = 60
) -> TimeTrigger:
    return TimeTrigger(fmt, pattern, T0, end, window_s)


def test_a_crontab_trigger_fires_on_its_pattern_from_its_start_time() -> None:
    every_quarter = trigger(CRONTAB, "*/15 * * * *")

    assert every_quarter.first_at_or_after(T0 - timedelta(days=1)) == T0
    assert every_quarter.first_at_or_after(T0) == T0
    assert every_quarter.after(T0) == T0 + timedelta(minutes=15)
    assert every_quarter.firings_between(T0, T0 + timedelta(hours=1), limit=10) == [
        T0 + timedelta(minutes=15 * n) for n in range(5)
    ]


def test_an_rrule_in_a_vevent_fires_from_start_time_and_stops_at_end_time() -> None:
    daily_twice = trigger(
        CALENDAR,
        "BEGIN:VEVENT\nRRULE:FREQ=DAILY;BYHOUR=2,14;BYMINUTE=0;BYSECOND=0\nEND:VEVENT",
        end=T0 + timedelta(days=2),
    )

    firings = daily_twice.firings_between(T0, T0 + timedelta(days=10), limit=10)

    assert firings == [
        datetime(2030, 3, 1, 14, tzinfo=UTC),
        datetime(2030, 3, 2, 2, tzinfo=UTC),
        datetime(2030, 3, 2, 14, tzinfo=UTC),
        datetime(2030, 3, 3, 2, tzinfo=UTC),
    ]
    assert daily_twice.after(datetime(2030, 3, 3, 2, tzinfo=UTC)) is None


def test_a_crontab_trigger_past_its_end_time_has_no_next_firing() -> None:
    hourly = trigger(CRONTAB, "0 * * * *", end=T0 + timedelta(hours=2))

    assert hourly.after(T0 + timedelta(hours=1)) == T0 + timedelta(hours=2)
    assert hourly.after(T0 + timedelta(hours=2)) is None


def test_a_bare_rrule_and_a_count_limit_are_understood() -> None:
    three_times = trigger(CALENDAR, "FREQ=WEEKLY;COUNT=3")

    assert three_times.firings_between(T0, T0 + timedelta(days=365), limit=10) == [
        T0,
        T0 + timedelta(weeks=1),
        T0 + timedelta(weeks=2),
    ]


@pytest.mark.parametrize(
    ("fmt", "pattern", "window_s", "message"),
    [
        (CRONTAB, "61 * * * *", 60, "does not parse"),
        (CRONTAB, "*/2 * * * *", 60, "minimum interval"),
        (CALENDAR, "FREQ=MINUTELY;INTERVAL=1", 10, "minimum interval"),
        (CALENDAR, "RRULE:FREQ=HOURLY\nRRULE:FREQ=DAILY", 60, "exactly one RRULE"),
        (CALENDAR, "FREQ=HOURLY;BYDAY=XX", 60, "does not parse"),
        (CRONTAB, "0 * * * *", 3600, "window_s"),
    ],
)
def test_bad_or_too_frequent_patterns_are_refused(
    fmt: str, pattern: str, window_s: int, message: str
) -> None:
    with pytest.raises(InvalidTrigger, match=message):
        check_trigger(trigger(fmt, pattern, window_s=window_s), min_interval_s=300)


def test_a_pattern_at_the_minimum_interval_is_accepted() -> None:
    check_trigger(trigger(CRONTAB, "*/5 * * * *"), min_interval_s=300)
    check_trigger(trigger(CALENDAR, "FREQ=MINUTELY;INTERVAL=5"), min_interval_s=300)
