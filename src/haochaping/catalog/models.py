"""Catalogue (A2-A5): regions, halls, organisations, business lines, items, windows, staff."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base


class RegionLevel(StrEnum):
    """A3: 省 → 设区市 → 县(市、区) → 乡镇(街道) → 村(社区)."""

    province = "province"
    city = "city"
    county = "county"
    township = "township"
    village = "village"


class ItemKind(StrEnum):
    """C1: 即办件 / 承诺件."""

    immediate = "immediate"
    promised = "promised"


class Handling(StrEnum):
    """B5, C3: where a case is handled."""

    online = "online"
    window = "window"
    terminal = "terminal"


class Region(Base):
    """A3: a node of the region tree, GB/T 2260 code (6 digits, 12 below county)."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(
        ForeignKey("regions.code"), index=True, default=None
    )
    # Materialised path "/450000/450200/450224/" for subtree queries.
    path: Mapped[str] = mapped_column(String(200), index=True)
    # Name of the policy profile this region uses; None = its nearest ancestor's (P1).
    profile: Mapped[str | None] = mapped_column(String(50), default=None)


class Hall(Base):
    """A3: a service centre or sub-centre (分中心)."""

    __tablename__ = "halls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"), default=None)


class BusinessLine(Base):
    """A4: the same business across levels."""

    __tablename__ = "business_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))


class Organization(Base):
    """A2: a service organisation, in one region, on one business line."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("business_lines.id"), default=None)


class ServiceItem(Base):
    """A service item (政务服务事项) of an organisation."""

    __tablename__ = "service_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # Comma-separated subset of online,window,terminal.
    handling: Mapped[str] = mapped_column(String(40))
    promised_days: Mapped[int] = mapped_column(Integer, default=0)


class Window(Base):
    """A counter (窗口) in a hall, staffed by one organisation."""

    __tablename__ = "windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    hall_id: Mapped[int] = mapped_column(ForeignKey("halls.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)


class Staff(Base):
    """Window staff (窗口工作人员), by staff number."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"), default=None)
