"""P2: an administrator extends the calendar with a newly published year's schedule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haochaping.calendar.models import CalendarOverride, CalendarYear
from haochaping.calendar.service import (
    FILE_INVALID,
    WorkCalendar,
    add_duration,
    import_file,
    list_overrides,
    year_schedule,
)
from haochaping.clock import BEIJING
from haochaping.errors import InvalidInput
from haochaping.policy.schemas import ClockUnit, Duration

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "calendar-2027.csv"
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def end_of(day: str) -> datetime:
    return (datetime.fromisoformat(day).replace(tzinfo=BEIJING) + timedelta(days=1)).astimezone(UTC)


def count(session: Session, model: type[CalendarOverride] | type[CalendarYear]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_p2_2027_deadline_is_estimated_until_the_schedule_is_imported(session: Session) -> None:
    start = datetime(2027, 2, 4, 10, 0, tzinfo=BEIJING)  # Thursday before 春节
    duration = Duration(amount=1, unit=ClockUnit.working_days)
    before = add_duration(session=session, start=start, duration=duration)
    assert before.at == end_of("2027-02-05") and before.estimated

    result = import_file(session=session, path=EXAMPLE, now=NOW)
    assert result.years == (2027,)
    assert (result.holidays, result.workdays) == (29, 5)
    assert (result.inserted, result.updated, result.unchanged) == (34, 0, 0)

    after = add_duration(session=session, start=start, duration=duration)
    # 02-05 .. 02-13 are 春节; Sunday 02-14 is a 调休 working day.
    assert after.at == end_of("2027-02-14") and not after.estimated
    cal = WorkCalendar.load(session)
    assert cal.is_working_day(date(2027, 3, 3)) == (True, False)  # plain Wednesday, official
    assert cal.is_working_day(date(2027, 10, 9)) == (True, False)  # Saturday make-up


def test_p2_import_registers_the_year_and_lists_its_overrides(session: Session) -> None:
    import_file(session=session, path=EXAMPLE, now=NOW)
    registered = session.get(CalendarYear, 2027)
    assert registered is not None
    assert registered.source == "calendar-2027.csv" and registered.imported_at == NOW
    days = list_overrides(session=session, year=2027)
    assert [d.day for d in days] == sorted(d.day for d in days)
    assert days[0].day == date(2027, 1, 1) and days[0].name == "元旦" and not days[0].is_working
    assert list_overrides(session=session, year=2026) == []
    assert len(list_overrides(session=session, year=None)) == 34
    schedule = year_schedule(session=session, year=2027)
    assert schedule.official and not schedule.builtin and len(schedule.days) == 34


def test_p2_reimport_upserts_changed_rows(session: Session, tmp_path: Path) -> None:
    import_file(session=session, path=EXAMPLE, now=NOW)
    lines = EXAMPLE.read_text(encoding="utf-8").splitlines()
    changed = [
        line.replace("2027-06-09,holiday,端午节", "2027-06-09,workday,改为上班") for line in lines
    ]
    changed.append("2027-06-11,holiday,端午节")
    path = write(tmp_path, "calendar-2027-fix.csv", "\n".join(changed) + "\n")
    result = import_file(session=session, path=path, now=NOW + timedelta(days=1))
    assert (result.inserted, result.updated, result.unchanged) == (1, 1, 33)
    assert count(session, CalendarOverride) == 35 and count(session, CalendarYear) == 1
    cal = WorkCalendar.load(session)
    assert cal.is_working_day(date(2027, 6, 9)) == (True, False)
    assert cal.is_working_day(date(2027, 6, 11)) == (False, False)
    registered = session.get(CalendarYear, 2027)
    assert registered is not None and registered.source == "calendar-2027-fix.csv"


def test_p2_import_reports_every_bad_csv_row_and_loads_nothing(
    session: Session, tmp_path: Path
) -> None:
    path = write(
        tmp_path,
        "bad.csv",
        "date,type,name\n"
        "2027-01-01,holiday,元旦\n"  # 2 fine
        "2027-02-30,holiday,春节\n"  # 3 no such day
        "2027-02-14,rest,春节\n"  # 4 unknown type
        "\n"  # 5 blank, skipped
        "2027-01-01,workday,元旦\n"  # 6 duplicate of row 2
        "2072-10-01,holiday,国庆节\n"  # 7 not the file's year
        "2027-10-02,holiday,\n"  # 8 empty name
        "27/10/3,holiday,国庆节\n"  # 9 bad format
        "2027-10-04,holiday,国庆节,多余\n",  # 10 extra column
    )
    with pytest.raises(InvalidInput) as caught:
        import_file(session=session, path=path, now=NOW)
    error = caught.value
    assert error.code == FILE_INVALID and error.status_code == 422
    assert "7 处错误" in error.message and "未导入" in error.message
    assert [item["row"] for item in error.details] == [3, 4, 6, 7, 8, 9, 10]
    messages = {item["row"]: item["message"] for item in error.details}
    assert "2027-02-30" in messages[3] and "rest" in messages[4]
    assert "第 2 行重复" in messages[6] and "2027" in messages[7]
    assert count(session, CalendarOverride) == 0 and count(session, CalendarYear) == 0


def test_p2_import_yaml_with_declared_year(session: Session, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "calendar-2028.yaml",
        "year: 2028\n"
        "source: 国务院办公厅通知（测试）\n"
        "holidays:\n"
        "  - {date: 2028-01-01, name: 元旦}\n"
        "  - {date: '2028-01-03', name: 元旦}\n"
        "workdays:\n"
        "  - date: 2028-01-08\n"
        "    name: 元旦调休上班\n",
    )
    result = import_file(session=session, path=path, now=NOW)
    assert result.years == (2028,) and result.source == "国务院办公厅通知（测试）"
    assert (result.holidays, result.workdays) == (2, 1)
    cal = WorkCalendar.load(session)
    assert cal.is_working_day(date(2028, 1, 3)) == (False, False)  # Monday off
    assert cal.is_working_day(date(2028, 1, 4)) == (True, False)  # official weekday
    assert cal.is_working_day(date(2028, 1, 8)) == (True, False)  # Saturday make-up


def test_p2_import_yaml_errors_carry_line_numbers(session: Session, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        "year: 2028\n"  # 1
        "holidays:\n"  # 2
        "  - {date: 2028-01-01, name: 元旦}\n"  # 3
        "  - {date: 2029-01-01, name: 元旦}\n"  # 4 outside declared year
        "  - {date: 2028-13-01, name: 元旦}\n"  # 5 bad date
        "workdays:\n"  # 6
        "  - {date: 2028-01-01, name: 调休}\n"  # 7 duplicate
        "  - {date: 2028-01-08}\n"  # 8 no name
        "colour: red\n",  # 9 unknown key
    )
    with pytest.raises(InvalidInput) as caught:
        import_file(session=session, path=path, now=NOW)
    assert [item["row"] for item in caught.value.details] == [4, 5, 7, 8, 9]
    assert count(session, CalendarOverride) == 0 and count(session, CalendarYear) == 0


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("no-header.csv", "2027-01-01,holiday,元旦\n"),
        ("empty.csv", "date,type,name\n"),
        ("notes.txt", "date,type,name\n2027-01-01,holiday,元旦\n"),
        ("broken.yaml", "year: [2027\n"),
        ("list.yaml", "- 2027-01-01\n"),
    ],
)
def test_p2_import_refuses_unusable_files(
    session: Session, tmp_path: Path, name: str, text: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        import_file(session=session, path=write(tmp_path, name, text), now=NOW)
    assert caught.value.code == FILE_INVALID and caught.value.details
    assert count(session, CalendarOverride) == 0 and count(session, CalendarYear) == 0


def test_p2_import_of_missing_file_is_a_domain_error(session: Session, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput) as caught:
        import_file(session=session, path=tmp_path / "nope.csv", now=NOW)
    assert caught.value.code == FILE_INVALID


def test_p2_csv_with_bom_and_slashed_dates_is_accepted(session: Session, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("date,type,name\r\n2029/1/1,Holiday,元旦\r\n", encoding="utf-8-sig")
    result = import_file(session=session, path=path, now=NOW)
    assert result.years == (2029,) and result.holidays == 1
