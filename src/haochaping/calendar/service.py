"""Working days (P2): the official Chinese calendar with its 调休, extended by imported years.

A day's status is decided, in order, by an imported override row, by the ``chinese-calendar``
package (years it knows), by the weekday rule in a year an administrator imported (official), and
otherwise by the weekday rule alone, which is flagged as estimated.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import chinese_calendar
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.calendar.models import CalendarOverride, CalendarYear
from haochaping.calendar.schemas import DueTime
from haochaping.clock import BEIJING, ensure_aware, local_date
from haochaping.errors import InvalidInput
from haochaping.policy.schemas import ClockUnit, Duration

BUILTIN_SOURCE = "chinese-calendar"
FILE_INVALID = "calendar_file_invalid"
_NAME_MAX = 100
_SOURCE_MAX = 200
_HOLIDAY_NAMES: dict[str, str] = {h.value: h.chinese for h in chinese_calendar.Holiday}
_DATE_RE = re.compile(r"^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$")
_TYPES = {"holiday": False, "workday": True}


class _Loader(yaml.SafeLoader):
    """Safe YAML whose dates stay text, so that 2027-02-30 is reported, not a crash."""


def _timestamp_as_text(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return str(node.value)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


class DaySource(StrEnum):
    """What decided a day's status (P2)."""

    override = "override"  # a row imported by an administrator
    builtin = "builtin"  # the chinese-calendar package
    weekday = "weekday"  # Monday-Friday rule (official when the year was imported)


@dataclass(frozen=True)
class DayInfo:
    """One day as the calendar sees it; ``name`` is the holiday or make-up day it belongs to."""

    day: date
    is_working: bool
    estimated: bool
    source: DaySource
    name: str | None


@dataclass(frozen=True)
class OverrideDay:
    """A holiday or make-up working day, from the database or from chinese-calendar."""

    day: date
    is_working: bool
    name: str
    source: str


@dataclass(frozen=True)
class YearSchedule:
    """What is known about a year: imported, built in, or neither (then estimated)."""

    year: int
    imported_source: str | None
    imported_at: datetime | None
    builtin: bool
    days: list[OverrideDay]

    @property
    def official(self) -> bool:
        return self.builtin or self.imported_source is not None


@dataclass(frozen=True)
class ImportResult:
    """Counts of one calendar file import (P2)."""

    years: tuple[int, ...]
    source: str
    holidays: int
    workdays: int
    inserted: int
    updated: int
    unchanged: int


@cache
def has_builtin(year: int) -> bool:
    """Whether the chinese-calendar package knows this year's official schedule (P2)."""
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


class WorkCalendar:
    """The calendar held in memory for a batch of deadline computations (P2)."""

    def __init__(
        self, *, overrides: Mapping[date, tuple[bool, str]], official_years: Iterable[int]
    ) -> None:
        self._overrides = dict(overrides)
        self._official_years = frozenset(official_years)

    @classmethod
    def load(cls, session: Session) -> WorkCalendar:
        """Read every override and imported year (a few hundred rows at most), P2."""
        rows = session.execute(
            select(CalendarOverride.day, CalendarOverride.is_working, CalendarOverride.name)
        )
        overrides = {day: (is_working, name) for day, is_working, name in rows}
        years = session.scalars(select(CalendarYear.year))
        return cls(overrides=overrides, official_years=years)

    def is_official(self, year: int) -> bool:
        """Whether the year has an official schedule, built in or imported (P2)."""
        return year in self._official_years or has_builtin(year)

    def is_working_day(self, d: date) -> tuple[bool, bool]:
        """(is_working, estimated) for a Beijing calendar day, by the P2 order of sources."""
        override = self._overrides.get(d)
        if override is not None:
            return override[0], False
        if has_builtin(d.year):
            return bool(chinese_calendar.is_workday(d)), False
        return d.weekday() < 5, d.year not in self._official_years

    def describe(self, d: date) -> DayInfo:
        """The day's status with the source that decided it and its holiday name (P2)."""
        override = self._overrides.get(d)
        if override is not None:
            return DayInfo(d, override[0], False, DaySource.override, override[1])
        if has_builtin(d.year):
            _, english = chinese_calendar.get_holiday_detail(d)
            working = bool(chinese_calendar.is_workday(d))
            name = _builtin_name(english, working=working) if english else None
            return DayInfo(d, working, False, DaySource.builtin, name)
        working, estimated = self.is_working_day(d)
        return DayInfo(d, working, estimated, DaySource.weekday, None)

    def add(self, start: datetime, duration: Duration) -> DueTime:
        """The deadline ``duration`` after ``start`` (P2); ``at`` is timezone-aware UTC.

        - ``hours``: start + N hours; ``natural_days``: start + N x 24 h, the exact instant.
        - ``working_days``: 24:00 Beijing time (00:00 Asia/Shanghai of the next calendar day) of
          the N-th working day after the start's Beijing date, the start day not counted; N = 0
          is the end of the start day itself (当日).
        ``estimated`` is True when a day examined fell in a year with no official schedule.
        A naive ``start`` is read as Beijing time.
        """
        begin = ensure_aware(start).astimezone(UTC)
        amount = duration.amount
        try:
            if duration.unit is ClockUnit.hours:
                return DueTime(at=begin + timedelta(hours=amount), estimated=False)
            if duration.unit is ClockUnit.natural_days:
                return DueTime(at=begin + timedelta(days=amount), estimated=False)
            return self._add_working_days(begin, amount)
        except OverflowError as exc:
            raise InvalidInput(
                "calendar_out_of_range",
                f"期限超出日历可计算的范围：{duration.describe()}",
                details={"start": begin.isoformat(), "duration": duration.describe()},
            ) from exc

    def _add_working_days(self, begin: datetime, amount: int) -> DueTime:
        day = local_date(begin)
        estimated = False
        remaining = amount
        while remaining > 0:
            day += timedelta(days=1)
            working, guessed = self.is_working_day(day)
            estimated = estimated or guessed
            if working:
                remaining -= 1
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=BEIJING)
        return DueTime(at=end.astimezone(UTC), estimated=estimated)


def add_duration(*, session: Session, start: datetime, duration: Duration) -> DueTime:
    """Load the calendar and compute one deadline (P2); hold a WorkCalendar for batches."""
    return WorkCalendar.load(session).add(start, duration)


def list_overrides(*, session: Session, year: int | None) -> list[OverrideDay]:
    """Imported holidays and make-up working days, by date, of one year or all (P2)."""
    query = select(CalendarOverride).order_by(CalendarOverride.day)
    if year is not None:
        query = query.where(
            CalendarOverride.day >= date(year, 1, 1), CalendarOverride.day <= date(year, 12, 31)
        )
    return [
        OverrideDay(day=o.day, is_working=o.is_working, name=o.name, source=o.source)
        for o in session.scalars(query)
    ]


def year_schedule(*, session: Session, year: int) -> YearSchedule:
    """A year's holidays and make-up days, imported rows taking precedence over built-in (P2)."""
    builtin = has_builtin(year)
    days = {o.day: o for o in _builtin_days(year)} if builtin else {}
    days.update({o.day: o for o in list_overrides(session=session, year=year)})
    imported = session.get(CalendarYear, year)
    return YearSchedule(
        year=year,
        imported_source=imported.source if imported else None,
        imported_at=imported.imported_at if imported else None,
        builtin=builtin,
        days=[days[d] for d in sorted(days)],
    )


def _builtin_days(year: int) -> list[OverrideDay]:
    """chinese-calendar's holidays and weekend make-up working days of a year it knows."""
    found: list[OverrideDay] = []
    for table, working in ((chinese_calendar.holidays, False), (chinese_calendar.workdays, True)):
        for day, english in table.items():
            if day.year == year and (not working or day.weekday() >= 5):
                name = _builtin_name(english, working=working)
                found.append(OverrideDay(day, working, name, BUILTIN_SOURCE))
    return found


def _builtin_name(english: str, *, working: bool) -> str:
    name = _HOLIDAY_NAMES.get(english, english)
    return f"{name}调休上班" if working else name


# ---- import -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Row:
    line: int
    day: date
    is_working: bool
    name: str


@dataclass
class _Parsed:
    rows: list[_Row]
    errors: list[dict[str, Any]]
    year: int | None = None
    source: str | None = None


def import_file(*, session: Session, path: Path, now: datetime) -> ImportResult:
    """Load a published year's schedule from CSV or YAML (P2); all or nothing, flushed only.

    Every row is checked first; any error raises ``InvalidInput(calendar_file_invalid)`` listing
    all of them with their line numbers, and nothing is written.
    """
    parsed = _parse(path)
    _check_rows(parsed)
    if parsed.errors:
        raise InvalidInput(
            FILE_INVALID,
            f"日历文件 {path.name} 有 {len(parsed.errors)} 处错误，未导入任何日期",
            details=sorted(parsed.errors, key=lambda e: (e["row"], e["message"])),
        )
    source = (parsed.source or path.name)[:_SOURCE_MAX]
    years = tuple(sorted({row.day.year for row in parsed.rows}))
    inserted = updated = unchanged = 0
    existing = {
        o.day: o
        for o in session.scalars(
            select(CalendarOverride).where(
                CalendarOverride.day >= date(years[0], 1, 1),
                CalendarOverride.day <= date(years[-1], 12, 31),
            )
        )
    }
    for row in parsed.rows:
        current = existing.get(row.day)
        if current is None:
            session.add(
                CalendarOverride(
                    day=row.day, is_working=row.is_working, name=row.name, source=source
                )
            )
            inserted += 1
        elif (current.is_working, current.name) == (row.is_working, row.name):
            current.source = source
            unchanged += 1
        else:
            current.is_working, current.name, current.source = row.is_working, row.name, source
            updated += 1
    for year in years:
        registered = session.get(CalendarYear, year)
        if registered is None:
            session.add(CalendarYear(year=year, source=source, imported_at=now))
        else:
            registered.source, registered.imported_at = source, now
    session.flush()
    working = sum(1 for row in parsed.rows if row.is_working)
    return ImportResult(
        years=years,
        source=source,
        holidays=len(parsed.rows) - working,
        workdays=working,
        inserted=inserted,
        updated=updated,
        unchanged=unchanged,
    )


def _error(line: int, message: str) -> dict[str, Any]:
    return {"row": line, "message": message}


def _refuse(path: Path, line: int, message: str) -> InvalidInput:
    return InvalidInput(
        FILE_INVALID, f"日历文件 {path.name} 无法读取：{message}", details=[_error(line, message)]
    )


def _parse(path: Path) -> _Parsed:
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".yaml", ".yml"):
        raise _refuse(path, 0, "只支持 .csv、.yaml 或 .yml 文件")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _refuse(path, 0, f"文件不存在或不是 UTF-8 文本（{type(exc).__name__}）") from exc
    return _parse_csv(text, path) if suffix == ".csv" else _parse_yaml(text, path)


def _parse_date(value: object) -> date | str:
    """A date, or the Chinese reason it is not one."""
    if isinstance(value, datetime):
        return "日期不能带时间"
    if isinstance(value, date):
        return value
    text = str(value if value is not None else "").strip()
    match = _DATE_RE.match(text)
    if not match:
        return f"日期“{text}”格式不对，应为 YYYY-MM-DD"
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return f"日期“{text}”不存在"


def _parse_name(value: object) -> str | None:
    name = str(value if value is not None else "").strip()
    return name or None


def _row(
    parsed: _Parsed, line: int, raw_date: object, raw_name: object, is_working: bool | None
) -> None:
    day = _parse_date(raw_date)
    name = _parse_name(raw_name)
    problems = [day] if isinstance(day, str) else []
    if name is None:
        problems.append("名称不能为空")
    elif len(name) > _NAME_MAX:
        problems.append(f"名称超过 {_NAME_MAX} 个字")
    parsed.errors.extend(_error(line, p) for p in problems)
    if not problems and is_working is not None and isinstance(day, date) and name:
        parsed.rows.append(_Row(line=line, day=day, is_working=is_working, name=name))


def _parse_csv(text: str, path: Path) -> _Parsed:
    parsed = _Parsed(rows=[], errors=[])
    reader = csv.reader(io.StringIO(text))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if header != ["date", "type", "name"]:
        raise _refuse(path, 1, "第 1 行必须是表头 date,type,name")
    for cells in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != 3:
            parsed.errors.append(_error(line, f"应有 3 列，实有 {len(cells)} 列"))
            continue
        raw_date, raw_type, raw_name = cells
        kind = raw_type.strip().lower()
        is_working = _TYPES.get(kind)
        if is_working is None:
            parsed.errors.append(_error(line, f"类型“{raw_type}”未知，应为 holiday 或 workday"))
        _row(parsed, line, raw_date, raw_name, is_working)
    return parsed


def _parse_yaml(text: str, path: Path) -> _Parsed:
    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise _refuse(path, line, "YAML 语法错误") from exc
    if not isinstance(data, dict) or not isinstance(root, yaml.MappingNode):
        raise _refuse(path, 1, "YAML 顶层应为包含 year、holidays、workdays 的映射")
    parsed = _Parsed(rows=[], errors=[])
    lines = {str(k.value): v for k, v in root.value}
    for key in sorted(set(map(str, data)) - {"year", "source", "holidays", "workdays"}):
        parsed.errors.append(_error(_line(lines.get(key), 1), f"未知的字段“{key}”"))
    year = data.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2999:
        parsed.errors.append(_error(_line(lines.get("year"), 1), "year 应为四位数年份"))
    else:
        parsed.year = year
    if data.get("source") is not None:
        parsed.source = str(data["source"]).strip() or None
    for key, working in (("holidays", False), ("workdays", True)):
        items, node = data.get(key), lines.get(key)
        if items is None:
            continue
        if not isinstance(items, list) or not isinstance(node, yaml.SequenceNode):
            parsed.errors.append(_error(_line(node, 1), f"{key} 应为列表"))
            continue
        for index, item in enumerate(items):
            line = _line(node.value[index], 1)
            if not isinstance(item, dict) or set(map(str, item)) - {"date", "name"}:
                parsed.errors.append(_error(line, f"{key} 的每一项应只有 date 和 name"))
                continue
            _row(parsed, line, item.get("date"), item.get("name"), working)
    return parsed


def _line(node: yaml.Node | None, default: int) -> int:
    return node.start_mark.line + 1 if node is not None else default


def _check_rows(parsed: _Parsed) -> None:
    """Duplicates, and dates outside the file's year: declared (YAML) or the rows' own (CSV)."""
    if not parsed.rows and not parsed.errors:
        parsed.errors.append(_error(0, "文件中没有任何节假日或调休上班日期"))
        return
    year = parsed.year
    if year is None and parsed.rows:
        year = Counter(row.day.year for row in parsed.rows).most_common(1)[0][0]
    seen: dict[date, int] = {}
    kept: list[_Row] = []
    for row in parsed.rows:
        if row.day in seen:
            parsed.errors.append(_error(row.line, f"日期 {row.day} 与第 {seen[row.day]} 行重复"))
        elif row.day.year != year:
            parsed.errors.append(_error(row.line, f"日期 {row.day} 不在本文件的年份 {year} 内"))
        else:
            seen[row.day] = row.line
            kept.append(row)
    parsed.rows = kept
