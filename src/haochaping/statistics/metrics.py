"""Metrics of units over a period, read from the rollups (evaluations) and from the work
orders (F1-F6). Revoked evaluations are already out of the rollups (B2)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    String,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.orm import Session

from haochaping.clock import BEIJING
from haochaping.evaluations.models import CHANNEL_NAMES, Channel
from haochaping.policy.schemas import LabelCatalogue
from haochaping.statistics import orders
from haochaping.statistics.models import StatDay, StatLabel, StatMonth, StatOrders
from haochaping.statistics.periods import Period
from haochaping.statistics.schemas import (
    ChannelShare,
    Dimension,
    LabelShare,
    Part,
    TrendPoint,
    UnitMetrics,
    WorkOrderTally,
)
from haochaping.statistics.units import Unit

_CHUNK = 900


@dataclass
class Sums:
    evaluations: int = 0
    transactions: int = 0
    points: float = 0.0
    levels: list[int] = field(default_factory=lambda: [0] * 5)
    bad: int = 0
    expired: int = 0
    default_evaluations: int = 0
    default_transactions: int = 0
    default_points: float = 0.0

    def add(self, is_default: bool, values: Sequence[float]) -> None:
        n, tx, pts = int(values[0]), int(values[1]), float(values[2])
        self.evaluations += n
        self.transactions += tx
        self.points += pts
        for i in range(5):
            self.levels[i] += int(values[3 + i])
        self.bad += int(values[8])
        self.expired += int(values[9])
        if is_default:
            self.default_evaluations += n
            self.default_transactions += tx
            self.default_points += pts

    def merge(self, other: Sums) -> None:
        self.evaluations += other.evaluations
        self.transactions += other.transactions
        self.points += other.points
        self.levels = [a + b for a, b in zip(self.levels, other.levels, strict=True)]
        self.bad += other.bad
        self.expired += other.expired
        self.default_evaluations += other.default_evaluations
        self.default_transactions += other.default_transactions
        self.default_points += other.default_points

    def metrics(
        self, unit: Unit, *, focus_max_level: int, work_orders: WorkOrderTally | None = None
    ) -> UnitMetrics:
        active_n = self.evaluations - self.default_evaluations
        active_tx = self.transactions - self.default_transactions
        low = sum(self.levels[:focus_max_level])
        return UnitMetrics(
            dimension=unit.dimension,
            key=unit.key,
            code=unit.code,
            name=unit.name,
            level=unit.level,
            group=unit.group,
            evaluations=self.evaluations,
            transactions=self.transactions,
            average=_ratio(self.points, self.transactions),
            active=Part(
                evaluations=active_n,
                transactions=active_tx,
                average=_ratio(self.points - self.default_points, active_tx),
            ),
            default=Part(
                evaluations=self.default_evaluations,
                transactions=self.default_transactions,
                average=_ratio(self.default_points, self.default_transactions),
            ),
            levels={i + 1: n for i, n in enumerate(self.levels)},
            bad=self.bad,
            bad_rate=_ratio(self.bad, self.evaluations),
            active_rate=_ratio(active_n, self.evaluations),
            expired=self.expired,
            coverage=_ratio(active_n, self.evaluations + self.expired),
            low=low,
            low_share=_ratio(low, self.evaluations),
            # Given, not left to its default factory nor assigned later (pydantic's assignment
            # is slow): faster for the thousands of rows of a city's items.
            work_orders=work_orders or WorkOrderTally(),
        )


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def read_sums(
    session: Session,
    dimension: Dimension,
    keys: Sequence[str],
    months: Sequence[int],
    *,
    channel: int | None = None,
) -> dict[str, Sums]:
    """Summed rollup rows of each unit over ``months``; ``channel`` keeps one D5 channel's
    active evaluations only (defaults and expiries have none)."""
    result: dict[str, Sums] = defaultdict(Sums)
    measures = (
        func.sum(StatMonth.evaluations),
        func.sum(StatMonth.transactions),
        func.sum(StatMonth.points),
        func.sum(StatMonth.level1),
        func.sum(StatMonth.level2),
        func.sum(StatMonth.level3),
        func.sum(StatMonth.level4),
        func.sum(StatMonth.level5),
        func.sum(StatMonth.bad),
        func.sum(StatMonth.expired),
    )
    rows = _rollup_rows(
        session,
        dimension,
        keys,
        months,
        channel=channel,
        columns=(StatMonth.unit, StatMonth.is_default, *measures),
        group_by=(StatMonth.unit, StatMonth.is_default),
    )
    for unit, is_default, *values in rows:
        result[unit].add(bool(is_default), [v or 0 for v in values])
    return result


def _rollup_rows(
    session: Session,
    dimension: Dimension,
    keys: Sequence[str],
    months: Sequence[int],
    *,
    channel: int | None,
    columns: Sequence[Any],
    group_by: Sequence[Any],
) -> list[Any]:
    """``columns`` (the unit first) of the monthly rollup of ``keys`` over ``months``, grouped.
    PostgreSQL reads a region's lines or items as one range of keys and joins other keys as one
    array (both by the covering index); SQLite takes them in chunks of bound values."""
    if not keys:
        return []
    conds: list[ColumnElement[bool]] = [
        StatMonth.dimension == dimension.value,
        StatMonth.month.in_(list(months)),
    ]
    if channel is not None:
        conds.append(StatMonth.channel == channel)
    query = select(*columns).where(*conds).group_by(*group_by)
    # Core rows, fetched at once (``all``; iterating fetches row by row): the ORM's row loading
    # costs more than the query for thousands of units.
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        prefix = _common_region_prefix(keys)
        if prefix is not None:
            # A region's lines or items (``450200:17``): one range of the covering index; a
            # unit of the range that was not asked for is left out here.
            wanted_keys = set(keys)
            ranged = query.where(
                StatMonth.unit >= prefix, StatMonth.unit < prefix[:-1] + _AFTER_SEPARATOR
            )
            return [row for row in conn.execute(ranged).all() if row[0] in wanted_keys]
        wanted = (
            func.unnest(cast(list(keys), ARRAY(String)))
            .table_valued("unit")
            .render_derived(name="wanted")
        )
        return list(conn.execute(query.join(wanted, wanted.c.unit == StatMonth.unit)).all())
    rows: list[Any] = []
    for start in range(0, len(keys), _CHUNK):
        chunk = list(keys[start : start + _CHUNK])
        rows.extend(conn.execute(query.where(StatMonth.unit.in_(chunk))).all())
    return rows


_SEPARATOR = ":"
_AFTER_SEPARATOR = chr(ord(_SEPARATOR) + 1)


def _common_region_prefix(keys: Sequence[str]) -> str | None:
    """``"450200:"`` when every key is a unit of that region (lines and items are keyed
    ``region:id``), else None."""
    head, sep, _ = keys[0].partition(_SEPARATOR)
    if not sep:
        return None
    prefix = head + _SEPARATOR
    return prefix if all(k.startswith(prefix) for k in keys) else None


@dataclass(frozen=True, slots=True)
class Light:
    """The few sums rankings, focus lists and the sorting of a table read of a unit: one row
    each for thousands of units, summed by the database, no full metrics."""

    evaluations: int
    transactions: int
    points: float
    low: int
    bad: int
    expired: int
    default_evaluations: int

    @property
    def average(self) -> float | None:
        return _ratio(self.points, self.transactions)

    @property
    def active(self) -> int:
        return self.evaluations - self.default_evaluations


NO_SUMS = Light(0, 0, 0.0, 0, 0, 0, 0)


def light_sums(
    session: Session,
    dimension: Dimension,
    keys: Sequence[str],
    months: Sequence[int],
    *,
    low_levels: int,
    per_month: bool = False,
    channel: int | None = None,
) -> dict[tuple[str, int], Light]:
    """``Light`` sums of each unit (and month, with ``per_month``; month 0 otherwise), with
    ratings at or below ``low_levels`` as ``low``."""
    if not keys:
        return {}
    low = sum(
        (getattr(StatMonth, f"level{level}") for level in range(1, low_levels + 1)),
        start=literal(0),
    )
    defaults = case((StatMonth.is_default, StatMonth.evaluations), else_=0)
    month = StatMonth.month if per_month else literal(0)
    rows = _rollup_rows(
        session,
        dimension,
        keys,
        months,
        channel=channel,
        columns=(
            StatMonth.unit,
            month,
            func.sum(StatMonth.evaluations),
            func.sum(StatMonth.transactions),
            func.sum(StatMonth.points),
            func.sum(low),
            func.sum(StatMonth.bad),
            func.sum(StatMonth.expired),
            func.sum(defaults),
        ),
        group_by=(StatMonth.unit, *([StatMonth.month] if per_month else [])),
    )
    result: dict[tuple[str, int], Light] = {}
    for unit, at, n, tx, points, lows, bad, expired, default_n in rows:
        result[(unit, int(at))] = Light(
            int(n or 0),
            int(tx or 0),
            float(points or 0),
            int(lows or 0),
            int(bad or 0),
            int(expired or 0),
            int(default_n or 0),
        )
    return result


def unit_metrics(
    session: Session,
    units: Sequence[Unit],
    period: Period,
    *,
    focus_max_level: int,
    channel: int | None = None,
    with_work_orders: bool = True,
) -> list[UnitMetrics]:
    if not units:
        return []
    dimension = units[0].dimension
    keys = [u.key for u in units]
    sums = read_sums(session, dimension, keys, period.months, channel=channel)
    tallies = work_order_tallies(session, dimension, keys, period) if with_work_orders else {}
    return [
        sums.get(u.key, Sums()).metrics(
            u, focus_max_level=focus_max_level, work_orders=tallies.get(u.key)
        )
        for u in units
    ]


def channel_shares(session: Session, unit: Unit, period: Period) -> list[ChannelShare]:
    rows = session.execute(
        select(
            StatMonth.channel,
            func.sum(StatMonth.evaluations),
            func.sum(StatMonth.transactions),
            func.sum(StatMonth.points),
        )
        .where(
            StatMonth.dimension == unit.dimension.value,
            StatMonth.unit == unit.key,
            StatMonth.month.in_(period.months),
        )
        .group_by(StatMonth.channel)
    )
    counted = [(c, int(n or 0), int(tx or 0), float(p or 0)) for c, n, tx, p in rows if n]
    total = sum(n for _, n, _, _ in counted)
    result = []
    for channel, n, tx, points in sorted(counted):
        name = CHANNEL_NAMES.get(Channel(channel), str(channel)) if channel else "默认评价"
        result.append(
            ChannelShare(
                channel=channel,
                name=name,
                evaluations=n,
                average=_ratio(points, tx),
                share=n / total if total else 0.0,
            )
        )
    return result


def trend(session: Session, unit: Unit, first: date, end: date) -> list[TrendPoint]:
    """Daily figures of one unit in [first, end)."""
    rows = session.execute(
        select(
            StatDay.day,
            StatDay.is_default,
            StatDay.evaluations,
            StatDay.transactions,
            StatDay.points,
            StatDay.bad,
        ).where(
            StatDay.dimension == unit.dimension.value,
            StatDay.unit == unit.key,
            StatDay.day >= first,
            StatDay.day < end,
        )
    )
    days: dict[date, list[float]] = defaultdict(lambda: [0.0] * 5)
    for when, is_default, n, tx, points, bad in rows:
        acc = days[when]
        acc[0] += n
        acc[1] += 0 if is_default else n
        acc[2] += tx
        acc[3] += points
        acc[4] += bad
    result = []
    day = first
    while day < end:
        acc = days.get(day, [0.0] * 5)
        result.append(
            TrendPoint(
                day=day.isoformat(),
                evaluations=int(acc[0]),
                active=int(acc[1]),
                average=_ratio(acc[3], acc[2]),
                bad=int(acc[4]),
            )
        )
        day += timedelta(days=1)
    return result


def label_shares(
    session: Session, unit: Unit, period: Period, catalogue: LabelCatalogue
) -> list[LabelShare]:
    """How often each label was chosen, as a share of the unit's active evaluations."""
    rows = session.execute(
        select(StatLabel.label, func.sum(StatLabel.evaluations))
        .where(
            StatLabel.dimension == unit.dimension.value,
            StatLabel.unit == unit.key,
            StatLabel.month.in_(period.months),
        )
        .group_by(StatLabel.label)
    )
    counts = {code: int(n or 0) for code, n in rows if n}
    base = read_sums(session, unit.dimension, [unit.key], period.months).get(unit.key, Sums())
    active = base.evaluations - base.default_evaluations
    labels = catalogue.by_code()
    result = [
        LabelShare(
            code=code,
            name=labels[code].name if code in labels else code,
            group=labels[code].group if code in labels else "",
            evaluations=n,
            share=n / active if active else 0.0,
        )
        for code, n in counts.items()
    ]
    return sorted(result, key=lambda s: (-s.evaluations, s.code))


# --- work orders ---------------------------------------------------------------------------------


def period_bounds(period: Period) -> tuple[datetime, datetime]:
    start = datetime.combine(period.start, time(), tzinfo=BEIJING)
    end = datetime.combine(period.end, time(), tzinfo=BEIJING)
    return start, end


def work_order_tallies(
    session: Session, dimension: Dimension, keys: Iterable[str], period: Period
) -> dict[str, WorkOrderTally]:
    """F1-F6 figures of the work orders received in the period, per unit (``stat_orders``)."""
    wanted = sorted(set(keys))
    if not wanted:
        return {}
    columns = [func.sum(getattr(StatOrders, name)) for name in orders.MEASURES]
    conds: list[ColumnElement[bool]] = [
        StatOrders.dimension == dimension.value,
        StatOrders.month.in_(period.months),
    ]
    query = select(StatOrders.unit, *columns).where(*conds).group_by(StatOrders.unit)
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        wanted_keys = (
            func.unnest(cast(wanted, ARRAY(String)))
            .table_valued("unit")
            .render_derived(name="wanted")
        )
        rows = conn.execute(query.join(wanted_keys, wanted_keys.c.unit == StatOrders.unit)).all()
    else:
        rows = []
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows.extend(conn.execute(query.where(StatOrders.unit.in_(chunk))).all())
    # One row per unit (grouped), each model built once: pydantic's attribute assignment is
    # slow for the thousands of a city's items.
    return {unit: _tally(values) for unit, *values in rows}


def _tally(row: Sequence[Any]) -> WorkOrderTally:
    opened, closed, overdue, on_time, rectified, appealed, upheld, real_name, revisited = (
        int(v or 0) for v in row[:9]
    )
    return WorkOrderTally(
        opened=opened,
        closed=closed,
        overdue=overdue,
        on_time=on_time,
        rectified=rectified,
        appealed=appealed,
        upheld=upheld,
        real_name=real_name,
        revisited=revisited,
        revisit_rate=revisited / real_name if real_name else None,
        deductions=float(row[9] or 0.0),
    )
