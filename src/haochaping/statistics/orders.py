"""Work-order figures (F1-F6) per unit and month: counted from the raw orders of a month and
kept in ``stat_orders``, so that dashboards of any size read a few rows per unit.

An order is counted in the month it was received (Beijing time). Any change to an order (a new
one, a step, an appeal, the sweeper marking it overdue) queues its month (``queue.ORDERS``);
the fold recounts the queued months whole, and ``rollup.rebuild`` recounts them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, case, delete, func, select
from sqlalchemy.orm import Session

from haochaping.bulk_insert import upsert_replacing
from haochaping.clock import BEIJING
from haochaping.statistics.geography import Geography
from haochaping.statistics.models import StatOrders
from haochaping.statistics.schemas import Dimension
from haochaping.workorders.models import WorkOrder
from haochaping.workorders.procedure import State

MEASURES = (
    "opened",
    "closed",
    "overdue",
    "on_time",
    "rectified",
    "appealed",
    "upheld",
    "real_name",
    "revisited",
    "deductions",
)
# pg_advisory_xact_lock(space, month): one recount of a month at a time.
_LOCK_SPACE = 0x5354  # "ST"
_GROUPS: dict[Dimension, tuple[Any, ...]] = {
    Dimension.org: (WorkOrder.org_id,),
    Dimension.window: (WorkOrder.window_id,),
    Dimension.staff: (WorkOrder.staff_id,),
    Dimension.region: (WorkOrder.region_code,),
    Dimension.line: (WorkOrder.region_code, WorkOrder.line_id),
    Dimension.item: (WorkOrder.region_code, WorkOrder.item_id),
}


def month_bounds(month: int) -> tuple[datetime, datetime]:
    """[start, end) of a yyyymm month in Beijing time."""
    year, number = divmod(month, 100)
    start = date(year, number, 1)
    end = date(year + number // 12, number % 12 + 1, 1)
    return (
        datetime.combine(start, time(), tzinfo=BEIJING),
        datetime.combine(end, time(), tzinfo=BEIJING),
    )


def month_of(moment: datetime) -> int:
    local = moment.astimezone(BEIJING)
    return local.year * 100 + local.month


def count(
    session: Session, dimension: Dimension, start: datetime, end: datetime, geo: Geography
) -> dict[str, list[float]]:
    """The figures of every unit of ``dimension`` from the orders received in [start, end),
    counted from the raw table: by the database per group, added up per unit here (a region
    counts its sub-regions' groups, a line or item the regions above its own)."""
    closed = WorkOrder.state.in_((State.closed.value, State.revoked.value))

    def tally(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    measures = (
        func.count(),
        tally(closed),
        tally(WorkOrder.overdue.is_(True)),
        tally(and_(closed, WorkOrder.overdue.is_(False))),
        tally(and_(WorkOrder.resolution == "rectify", WorkOrder.state == State.closed.value)),
        tally(WorkOrder.appeal_filed_at.is_not(None)),
        tally(WorkOrder.state == State.revoked.value),
        tally(WorkOrder.real_name.is_(True)),
        tally(and_(WorkOrder.real_name.is_(True), WorkOrder.rater_satisfied.is_not(None))),
        func.coalesce(func.sum(WorkOrder.deduction_points), 0.0),
    )
    groups = _GROUPS[dimension]
    query = (
        select(*groups, *measures)
        .where(WorkOrder.received_at >= start, WorkOrder.received_at < end)
        .group_by(*groups)
    )
    result: dict[str, list[float]] = {}
    for row in session.execute(query):
        values = [float(v or 0) for v in row[len(groups) :]]
        for key in _keys(dimension, geo, row[: len(groups)]):
            acc = result.setdefault(key, [0.0] * len(MEASURES))
            for i, v in enumerate(values):
                acc[i] += v
    return result


def _keys(dimension: Dimension, geo: Geography, group: Sequence[object]) -> list[str]:
    if dimension in (Dimension.org, Dimension.window, Dimension.staff):
        return [str(group[0])] if group[0] is not None else []
    region = str(group[0])
    if dimension is Dimension.region:
        return geo.ancestors.get(region, [region])
    ident = group[1]
    if ident is None:
        return []
    return [f"{r}:{ident}" for r in geo.upper.get(region, [region])]


def refresh(session: Session, months: Iterable[int]) -> int:
    """Recount ``stat_orders`` for each of ``months`` from the raw orders; returns the rows
    written."""
    geo = Geography.load(session)
    table = cast(Table, StatOrders.__table__)
    postgres = session.get_bind().dialect.name == "postgresql"
    written = 0
    for month in sorted(set(months)):
        start, end = month_bounds(month)
        if postgres:
            # Two sweepers recounting one month take turns.
            session.execute(select(func.pg_advisory_xact_lock(_LOCK_SPACE, month)))
        session.execute(delete(StatOrders).where(StatOrders.month == month))
        rows = []
        for dimension in Dimension:
            for key, values in sorted(count(session, dimension, start, end, geo).items()):
                row: dict[str, Any] = {"dimension": dimension.value, "unit": key, "month": month}
                for name, value in zip(MEASURES, values, strict=True):
                    row[name] = value if name == "deductions" else int(value)
                rows.append(row)
        # Replacing, not adding: a row a concurrent recount wrote after this transaction's
        # snapshot (a rebuild's) is overwritten with the same counts.
        upsert_replacing(session.connection(), table, rows, keys=("dimension", "unit", "month"))
        written += len(rows)
    return written


def all_months(session: Session) -> list[int]:
    """The months that have orders (for a rebuild)."""
    first, last = session.execute(
        select(func.min(WorkOrder.received_at), func.max(WorkOrder.received_at))
    ).one()
    if first is None:
        return []
    months, month = [], month_of(first)
    while month <= month_of(last):
        months.append(month)
        year, number = divmod(month, 100)
        month = (year + 1) * 100 + 1 if number == 12 else month + 1
    return months
