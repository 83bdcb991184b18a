"""What 监督查评 callbacks found (D2), for the fraud checks (C10, G4): counts of confirmed,
denied and unreachable raters per organisation, staff member and channel, the denial rate,
and the list of denied evaluations. Read-only: evaluations are never changed here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.callbacks.models import CallbackItem, Outcome
from haochaping.callbacks.reading import (
    ITEM_ROW,
    channel_name,
    day_end,
    day_start,
    item_scope,
    page_checked,
    rate,
)
from haochaping.callbacks.schemas import LEVEL_NAMES, DenialOut, SummaryOut, Tally
from haochaping.catalog import service as catalog
from haochaping.catalog.models import Organization, Staff
from haochaping.errors import InvalidInput


@dataclass(frozen=True)
class FindingFilter:
    # A region code: the region and everything below it (never beyond the caller's scope).
    region_code: str | None = None
    # Beijing calendar days of the rating, both included.
    date_from: date | None = None
    date_to: date | None = None
    sample_id: int | None = None


def _pairs(rows: Any) -> dict[Any, Any]:
    return {key: value for key, value in rows}


def _conditions(session: Session, scope: Scope, f: FindingFilter) -> list[ColumnElement[bool]]:
    conds = [item_scope(scope)]
    if f.region_code:
        conds.append(
            CallbackItem.region_code.in_(catalog.subtree_codes(session=session, code=f.region_code))
        )
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise InvalidInput(
            "callback_period_invalid",
            "起始日期不能晚于截止日期",
            details={"from": f.date_from.isoformat(), "to": f.date_to.isoformat()},
        )
    if f.date_from:
        conds.append(CallbackItem.rated_at >= day_start(f.date_from))
    if f.date_to:
        conds.append(CallbackItem.rated_at < day_end(f.date_to))
    if f.sample_id is not None:
        conds.append(CallbackItem.sample_id == f.sample_id)
    return conds


def _count(outcome: Outcome) -> Any:
    return func.coalesce(func.sum(case((CallbackItem.outcome == outcome.value, 1), else_=0)), 0)


def _grouped(session: Session, key: Any, conds: list[ColumnElement[bool]]) -> list[Any]:
    return list(
        session.execute(
            select(
                key.label("key"),
                func.count(CallbackItem.id).label("drawn"),
                _count(Outcome.confirmed).label("confirmed"),
                _count(Outcome.denied).label("denied"),
                _count(Outcome.unreachable).label("unreachable"),
            )
            .where(*conds)
            .group_by(key)
        )
    )


def _tally(key: str, name: str, row: Any) -> Tally:
    drawn, confirmed, denied, unreachable = (
        int(row.drawn),
        int(row.confirmed),
        int(row.denied),
        int(row.unreachable),
    )
    return Tally(
        key=key,
        name=name,
        drawn=drawn,
        confirmed=confirmed,
        denied=denied,
        unreachable=unreachable,
        pending=drawn - confirmed - denied - unreachable,
        denial_rate=rate(denied, confirmed),
    )


def _ordered(tallies: list[Tally]) -> list[Tally]:
    # Most denials first: what the fraud checks look at first.
    return sorted(tallies, key=lambda t: (-t.denied, -(t.denial_rate or 0.0), -t.drawn, t.name))


def summary(*, session: Session, scope: Scope, filters: FindingFilter) -> SummaryOut:
    """C10, G4: callback results inside ``scope`` per organisation, staff member and channel,
    with the denial rate = denied / (confirmed + denied)."""
    conds = _conditions(session, scope, filters)
    by_org = _grouped(session, CallbackItem.org_id, conds)
    by_staff = _grouped(session, CallbackItem.staff_id, conds)
    by_channel = _grouped(session, CallbackItem.channel, conds)
    org_names = _pairs(
        session.execute(
            select(Organization.id, Organization.name).where(
                Organization.id.in_([r.key for r in by_org])
            )
        )
    )
    staff_names = _pairs(
        session.execute(
            select(Staff.id, Staff.name).where(
                Staff.id.in_([r.key for r in by_staff if r.key is not None])
            )
        )
    )
    (total,) = session.execute(
        select(
            func.count(CallbackItem.id).label("drawn"),
            _count(Outcome.confirmed).label("confirmed"),
            _count(Outcome.denied).label("denied"),
            _count(Outcome.unreachable).label("unreachable"),
        ).where(*conds)
    ).all()
    return SummaryOut(
        total=_tally("total", "合计", total),
        by_org=_ordered([_tally(str(r.key), org_names.get(r.key, "—"), r) for r in by_org]),
        by_staff=_ordered(
            [
                _tally(
                    str(r.key) if r.key is not None else "none",
                    staff_names.get(r.key, "—") if r.key is not None else "（未记录工作人员）",
                    r,
                )
                for r in by_staff
            ]
        ),
        by_channel=_ordered(
            [
                _tally(str(r.key) if r.key is not None else "none", channel_name(r.key), r)
                for r in by_channel
            ]
        ),
    )


def _denial(row: Any) -> DenialOut:
    item: CallbackItem = row[0]
    return DenialOut(
        item_id=item.id,
        sample_id=item.sample_id,
        evaluation_id=item.evaluation_id,
        case_no=row.case_no,
        region_name=row.region_name,
        org_name=row.org_name,
        window_name=row.window_name,
        staff_name=row.staff_name,
        channel=item.channel,
        channel_name=channel_name(item.channel),
        level=item.level,
        level_name=LEVEL_NAMES.get(item.level, str(item.level)),
        rated_at=item.rated_at,
        outcome_at=item.outcome_at,
        outcome_by=item.outcome_by,
        note=item.note,
    )


def denials(
    *,
    session: Session,
    scope: Scope,
    filters: FindingFilter,
    page: int = 1,
    page_size: int = 50,
) -> tuple[int, list[DenialOut]]:
    """C10, G4: sampled evaluations whose rater denies having rated, newest finding first, with
    where and how they were rated (staff, window, channel, time); no rater data."""
    page_checked(page, page_size)
    conds = [*_conditions(session, scope, filters), CallbackItem.outcome == Outcome.denied.value]
    total = int(session.scalar(select(func.count(CallbackItem.id)).where(*conds)) or 0)
    rows = session.execute(
        ITEM_ROW.where(*conds)
        .order_by(CallbackItem.outcome_at.desc(), CallbackItem.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return total, [_denial(row) for row in rows]
