"""Calendar (P2): official holidays and make-up working days (调休) the administrator loaded."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime


class CalendarOverride(Base):
    """One day whose status differs from, or confirms, the weekday rule: 春节, 调休上班…"""

    __tablename__ = "calendar_overrides"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_working: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200))


class CalendarYear(Base):
    """A year whose official schedule was imported; its days are then not estimated (P2)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(200))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
