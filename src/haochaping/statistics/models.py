"""Rollup tables of the evaluations and the queue that keeps them current.

Grain (issue 6, "or a better grain you can justify"): one row per month × dimension × unit ×
channel × default-or-not, with the level distribution in columns, instead of one row per day ×
staff × item × channel × level. A unit's rows are found by key, regions are stored already
expanded to their ancestors and business lines and items per county-or-higher region, so a
dashboard question reads a few rows per unit asked, and the table stops growing once every
unit is rated every month: 10 million evaluations need no more rows than 1 million do. Trends
read the daily table (no channel, no levels). Label shares have their own monthly table.

Every evaluation, revocation and unrated expiry is first queued in ``stat_pending`` in the
transaction that makes it (an insert, so concurrent ratings never wait on a hot rollup row);
the sweeper folds the queue into the rollups (``rollup.fold``), so the figures trail the raw
data by at most one sweep.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, Float, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base

# The counters of a monthly rollup row (also what ``rollup`` adds up when folding).
MONTH_MEASURES = (
    "evaluations",
    "transactions",
    "points",
    "level1",
    "level2",
    "level3",
    "level4",
    "level5",
    "bad",
    "expired",
)


class StatMonth(Base):
    __tablename__ = "stat_month"
    # What the dashboards read: the rows of one dimension and month, by unit. On PostgreSQL
    # the index carries every column a question sums (INCLUDE), so a question is an index-only
    # scan of consecutive entries: a city's items (keys ``city:item``) are one range, a list of
    # organisations or staff one short descent each, never a heap page per row (at 10M
    # evaluations the rollups are many times the shared buffers; migration 0018).
    __table_args__ = (
        Index(
            "ix_stat_month_dimension_month_unit",
            "dimension",
            "month",
            "unit",
            postgresql_include=["channel", "is_default", *MONTH_MEASURES],
        ),
    )

    # Key order: a question names its units and months, so the primary key leads with them.
    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)  # yyyymm, Beijing time
    # D5 channel code; 0 for default ratings (no channel) and unrated expiries.
    channel: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    is_default: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    evaluations: Mapped[int] = mapped_column(Integer, default=0)
    # Transactions the evaluations stand for (C4) and their points: the B2 average is
    # points / transactions.
    transactions: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[float] = mapped_column(Float, default=0.0)
    level1: Mapped[int] = mapped_column(Integer, default=0)
    level2: Mapped[int] = mapped_column(Integer, default=0)
    level3: Mapped[int] = mapped_column(Integer, default=0)
    level4: Mapped[int] = mapped_column(Integer, default=0)
    level5: Mapped[int] = mapped_column(Integer, default=0)
    bad: Mapped[int] = mapped_column(Integer, default=0)
    # Occasions whose window closed unrated under a profile without a default rating (C7).
    expired: Mapped[int] = mapped_column(Integer, default=0)


class StatDay(Base):
    __tablename__ = "stat_day"

    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    is_default: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    evaluations: Mapped[int] = mapped_column(Integer, default=0)
    transactions: Mapped[int] = mapped_column(Integer, default=0)
    points: Mapped[float] = mapped_column(Float, default=0.0)
    bad: Mapped[int] = mapped_column(Integer, default=0)


class StatLabel(Base):
    """B4 labels chosen by raters (defaults carry none), per month and unit."""

    __tablename__ = "stat_label"

    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    label: Mapped[str] = mapped_column(String(40), primary_key=True)
    evaluations: Mapped[int] = mapped_column(Integer, default=0)


class StatOrders(Base):
    """F1-F6 figures of the work orders received in a month, per unit. Orders change for
    weeks after they arrive (closed, overdue, appealed): a month is recounted whole from the raw
    orders whenever one of its orders changes (``orders.refresh``)."""

    __tablename__ = "stat_orders"

    dimension: Mapped[str] = mapped_column(String(8), primary_key=True)
    unit: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    opened: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)
    overdue: Mapped[int] = mapped_column(Integer, default=0)
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    rectified: Mapped[int] = mapped_column(Integer, default=0)
    appealed: Mapped[int] = mapped_column(Integer, default=0)
    upheld: Mapped[int] = mapped_column(Integer, default=0)
    real_name: Mapped[int] = mapped_column(Integer, default=0)
    revisited: Mapped[int] = mapped_column(Integer, default=0)
    deductions: Mapped[float] = mapped_column(Float, default=0.0)


class StatPending(Base):
    """What the rollups have not counted yet: ``kind`` evaluation (``sign`` +1 when stored, -1
    when revoked), expired (an occasion closed unrated) or orders (``ref_id`` a month, yyyymm,
    whose work orders changed)."""

    __tablename__ = "stat_pending"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))
    ref_id: Mapped[int] = mapped_column(Integer)
    sign: Mapped[int] = mapped_column(SmallInteger)
