"""Statistical periods: a month (2026-10), a quarter (2026-Q4), a year (2026) or a range of
months (2026-07..2026-10), always whole months of Beijing time, which is what the rollups hold
and what bulletins (G2) report on."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from haochaping.errors import DomainError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.IGNORECASE)
_YEAR = re.compile(r"^(\d{4})$")
_RANGE = re.compile(r"^(\d{4}-\d{2})\.\.(\d{4}-\d{2})$")


@dataclass(frozen=True)
class Period:
    """Months ``first``..``last`` inclusive, as yyyymm integers."""

    first: int
    last: int
    code: str

    @property
    def months(self) -> list[int]:
        result, month = [], self.first
        while month <= self.last:
            result.append(month)
            month = next_month(month)
        return result

    @property
    def start(self) -> date:
        return date(self.first // 100, self.first % 100, 1)

    @property
    def end(self) -> date:
        """The day after the period (exclusive bound)."""
        following = next_month(self.last)
        return date(following // 100, following % 100, 1)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days)]

    @property
    def label(self) -> str:
        if _YEAR.match(self.code):
            return f"{self.code}年"
        if m := _QUARTER.match(self.code):
            return f"{m.group(1)}年第{'一二三四'[int(m.group(2)) - 1]}季度"
        if self.first == self.last:
            return f"{self.first // 100}年{self.first % 100}月"
        return f"{self.first // 100}年{self.first % 100}月至{self.last // 100}年{self.last % 100}月"

    def previous(self, count: int = 1) -> Period:
        """The period of the same length that ends just before this one, ``count`` times back."""
        length = len(self.months)
        first = self.first
        for _ in range(length * count):
            first = previous_month(first)
        last = first
        for _ in range(length - 1):
            last = next_month(last)
        return Period(first, last, _code(first, last))


def next_month(month: int) -> int:
    year, m = divmod(month, 100)
    return (year + 1) * 100 + 1 if m == 12 else month + 1


def previous_month(month: int) -> int:
    year, m = divmod(month, 100)
    return (year - 1) * 100 + 12 if m == 1 else month - 1


def month_of(day: date) -> int:
    return day.year * 100 + day.month


def _code(first: int, last: int) -> str:
    if first == last:
        return f"{first // 100}-{first % 100:02d}"
    return f"{first // 100}-{first % 100:02d}..{last // 100}-{last % 100:02d}"


def _month(text: str) -> int:
    m = _MONTH.match(text)
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise _bad(text)
    return int(m.group(1)) * 100 + int(m.group(2))


def parse_period(text: str) -> Period:
    """Parse a period code; a malformed one is refused with ``invalid_period``."""
    text = text.strip()
    if m := _YEAR.match(text):
        year = int(m.group(1))
        if year < 2000:
            raise _bad(text)
        return Period(year * 100 + 1, year * 100 + 12, text)
    if m := _QUARTER.match(text):
        year, quarter = int(m.group(1)), int(m.group(2))
        if year < 2000:
            raise _bad(text)
        first = year * 100 + 3 * quarter - 2
        return Period(first, first + 2, f"{year}-Q{quarter}")
    if m := _RANGE.match(text):
        first, last = _month(m.group(1)), _month(m.group(2))
        if last < first or len(Period(first, last, "").months) > 36:
            raise _bad(text)
        return Period(first, last, _code(first, last))
    month = _month(text)
    return Period(month, month, _code(month, month))


def current_month(today: date) -> Period:
    month = month_of(today)
    return Period(month, month, _code(month, month))


def _bad(text: str) -> DomainError:
    return DomainError(
        "invalid_period",
        "统计周期格式不正确，应为 2026-10（月）、2026-Q4（季度）、2026（年）或 2026-07..2026-10",
        details={"period": text},
        status_code=422,
    )
