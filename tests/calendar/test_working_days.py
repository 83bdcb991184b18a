"""P2: working days follow the official calendar and its 调休; weekday rule flagged estimated."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from haochaping.calendar.models import CalendarOverride, CalendarYear
from haochaping.calendar.service import DaySource, WorkCalendar, add_duration
from haochaping.clock import BEIJING
from haochaping.errors import InvalidInput
from haochaping.policy.schemas import ClockUnit, Duration


def beijing(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


def end_of(day: str) -> datetime:
    """24:00 Beijing time of ``day``, in UTC."""
    return (beijing(day) + timedelta(days=1)).astimezone(UTC)


def working(n: int) -> Duration:
    return Duration(amount=n, unit=ClockUnit.working_days)


def test_p2_2026_national_day_is_off_and_its_makeup_weekend_days_are_working(
    session: Session,
) -> None:
    cal = WorkCalendar.load(session)
    for offset in range(7):
        assert cal.is_working_day(date(2026, 10, 1) + timedelta(days=offset)) == (False, False)
    assert cal.is_working_day(date(2026, 9, 20)) == (True, False)  # Sunday, 调休上班
    assert cal.is_working_day(date(2026, 10, 10)) == (True, False)  # Saturday, 调休上班
    assert cal.is_working_day(date(2026, 10, 11)) == (False, False)  # ordinary Sunday
    info = cal.describe(date(2026, 10, 10))
    assert (info.source, info.name) == (DaySource.builtin, "国庆节调休上班")
    assert cal.describe(date(2026, 10, 2)).name == "国庆节"


def test_p2_working_days_skip_the_national_day_holiday(session: Session) -> None:
    start = beijing("2026-09-30T10:00")
    due = add_duration(session=session, start=start, duration=working(1))
    assert due.at == end_of("2026-10-08")
    assert due.at == datetime(2026, 10, 8, 16, 0, tzinfo=UTC)
    assert due.at.tzinfo is not None and due.at.utcoffset() == timedelta(0)
    assert not due.estimated


def test_p2_working_days_count_the_makeup_saturday_after_national_day(session: Session) -> None:
    # 10-08 Thu, 10-09 Fri, 10-10 Sat (调休上班) are the three working days.
    due = add_duration(session=session, start=beijing("2026-09-30T10:00"), duration=working(3))
    assert due.at == end_of("2026-10-10")


def test_p2_working_days_count_the_makeup_sunday_before_mid_autumn(session: Session) -> None:
    # Friday 09-18 + 1: Saturday 09-19 is off, Sunday 09-20 is a 调休 working day.
    due = add_duration(session=session, start=beijing("2026-09-18T15:00"), duration=working(1))
    assert due.at == end_of("2026-09-20")
    # Thursday 09-24 + 1: Friday 09-25 .. Sunday 09-27 are the Mid-autumn holiday.
    due = add_duration(session=session, start=beijing("2026-09-24T15:00"), duration=working(1))
    assert due.at == end_of("2026-09-28")


def test_p2_working_days_skip_an_ordinary_weekend(session: Session) -> None:
    due = add_duration(session=session, start=beijing("2026-03-13T09:00"), duration=working(1))
    assert due.at == end_of("2026-03-16")
    due = add_duration(session=session, start=beijing("2026-03-14T09:00"), duration=working(5))
    assert due.at == end_of("2026-03-20")


def test_p2_zero_working_days_ends_at_midnight_beijing_of_the_start_day(session: Session) -> None:
    cal = WorkCalendar.load(session)
    # Even on a holiday, 当日 means the end of that same Beijing calendar day.
    assert cal.add(beijing("2026-10-01T15:00"), working(0)).at == end_of("2026-10-01")
    assert cal.add(beijing("2026-10-01T23:59"), working(0)).at == end_of("2026-10-01")
    # 2026-09-30 17:00 UTC is already 2026-10-01 01:00 in Beijing.
    utc_start = datetime(2026, 9, 30, 17, 0, tzinfo=UTC)
    assert cal.add(utc_start, working(0)).at == datetime(2026, 10, 1, 16, 0, tzinfo=UTC)
    assert cal.add(utc_start, working(1)).at == end_of("2026-10-08")


def test_p2_hours_and_natural_days_are_exact_instants_ignoring_holidays(
    session: Session,
) -> None:
    cal = WorkCalendar.load(session)
    start = beijing("2026-09-30T10:30")
    hours = cal.add(start, Duration(amount=48, unit=ClockUnit.hours))
    assert hours.at == datetime(2026, 10, 2, 2, 30, tzinfo=UTC)
    assert hours.at.tzinfo is not None and hours.at.utcoffset() == timedelta(0)
    days = cal.add(start, Duration(amount=3, unit=ClockUnit.natural_days))
    assert days.at == beijing("2026-10-03T10:30")
    assert not hours.estimated and not days.estimated
    # Far-future years are no concern for natural clocks.
    far = cal.add(beijing("2031-05-01T08:00"), Duration(amount=2, unit=ClockUnit.natural_days))
    assert far.at == beijing("2031-05-03T08:00") and not far.estimated


def test_p2_naive_start_is_read_as_beijing_time(session: Session) -> None:
    due = add_duration(session=session, start=datetime(2026, 10, 1, 1, 0), duration=working(0))
    assert due.at == end_of("2026-10-01")


def test_p2_unscheduled_year_uses_weekdays_and_is_estimated(session: Session) -> None:
    cal = WorkCalendar.load(session)
    assert cal.is_working_day(date(2031, 1, 1)) == (True, True)  # Wednesday
    assert cal.is_working_day(date(2031, 1, 4)) == (False, True)  # Saturday
    due = cal.add(beijing("2031-01-03T10:00"), working(1))  # Friday
    assert due.at == end_of("2031-01-06") and due.estimated


def test_p2_deadline_crossing_into_unscheduled_year_is_estimated(session: Session) -> None:
    cal = WorkCalendar.load(session)
    inside = cal.add(beijing("2026-12-28T10:00"), working(2))
    assert inside.at == end_of("2026-12-30") and not inside.estimated
    crossing = cal.add(beijing("2026-12-28T10:00"), working(5))
    assert crossing.at == end_of("2027-01-04") and crossing.estimated


def test_p2_imported_year_without_override_uses_weekdays_not_estimated(
    session: Session,
) -> None:
    session.add(CalendarYear(year=2031, source="测试", imported_at=datetime.now(UTC)))
    session.add(
        CalendarOverride(day=date(2031, 1, 1), is_working=False, name="元旦", source="测试")
    )
    session.add(
        CalendarOverride(day=date(2031, 1, 4), is_working=True, name="调休上班", source="测试")
    )
    session.flush()
    cal = WorkCalendar.load(session)
    assert cal.is_official(2031) and not cal.is_official(2032)
    assert cal.is_working_day(date(2031, 1, 1)) == (False, False)
    assert cal.is_working_day(date(2031, 1, 2)) == (True, False)
    assert cal.is_working_day(date(2031, 1, 4)) == (True, False)
    assert cal.is_working_day(date(2031, 1, 5)) == (False, False)
    due = cal.add(beijing("2030-12-31T18:00"), working(2))  # 01-02 Thu, 01-03 Fri
    assert due.at == end_of("2031-01-03") and not due.estimated


def test_p2_override_takes_precedence_over_the_builtin_calendar(session: Session) -> None:
    # An administrator may correct a year chinese-calendar knows (e.g. an added holiday).
    session.add(
        CalendarOverride(day=date(2026, 10, 8), is_working=False, name="国庆节", source="测试")
    )
    session.flush()
    cal = WorkCalendar.load(session)
    assert cal.is_working_day(date(2026, 10, 8)) == (False, False)
    assert cal.describe(date(2026, 10, 8)).source is DaySource.override
    assert cal.add(beijing("2026-09-30T10:00"), working(1)).at == end_of("2026-10-09")


def test_p2_absurd_working_day_count_is_refused_not_crashing(session: Session) -> None:
    cal = WorkCalendar(overrides={}, official_years=())
    with pytest.raises(InvalidInput) as caught:
        cal.add(beijing("9999-12-30T10:00"), working(5))
    assert caught.value.code == "calendar_out_of_range"
