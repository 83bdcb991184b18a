"""Time: always timezone-aware. Storage is UTC; calendar questions are asked in Beijing time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def ensure_aware(value: datetime) -> datetime:
    """Treat a naive datetime coming from a client or CLI as Beijing time."""
    if value.tzinfo is None:
        return value.replace(tzinfo=BEIJING)
    return value


def local_date(value: datetime) -> date:
    return ensure_aware(value).astimezone(BEIJING).date()


def parse_iso(text: str) -> datetime:
    return ensure_aware(datetime.fromisoformat(text)).astimezone(UTC)
