"""Reading samples and items of 监督查评 (D2) inside a caller's scope, raters masked (C9).

Samples and items belong to the supervision office of their region, like text reviews: a scope
sees those of its region subtrees; organisation and staff scopes see none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.orm import Session, aliased

from haochaping.access.scope import Scope
from haochaping.callbacks.models import (
    CallbackEvent,
    CallbackItem,
    CallbackSample,
    Outcome,
    SampleStatus,
)
from haochaping.callbacks.schemas import (
    ACTION_NAMES,
    LEVEL_NAMES,
    OUTCOME_NAMES,
    PENDING_NAME,
    STATUS_NAMES,
    EventOut,
    ItemOut,
    SampleOut,
    SampleSummary,
    Tally,
)
from haochaping.cases.models import Case
from haochaping.catalog.models import Organization, Region, Staff, Window
from haochaping.clock import BEIJING
from haochaping.errors import DomainError, InvalidInput, NotFound
from haochaping.evaluations.models import CHANNEL_NAMES, Channel
from haochaping.privacy import mask_phone

PAGE_SIZE_MAX = 500


def _pairs(rows: Any) -> dict[Any, Any]:
    return {key: value for key, value in rows}


def out_of_scope(what: str) -> DomainError:
    return DomainError("out_of_scope", f"{what}不在您的授权范围内", status_code=403)


def page_checked(page: int, page_size: int) -> None:
    if page < 1 or not 1 <= page_size <= PAGE_SIZE_MAX:
        raise InvalidInput(
            "page_invalid",
            f"页码应从 1 开始，每页条数应在 1 到 {PAGE_SIZE_MAX} 之间",
            details={"page": page, "page_size": page_size},
        )


def day_start(day: date) -> datetime:
    """The first instant of a Beijing calendar day."""
    return datetime.combine(day, time(0), BEIJING)


def day_end(day: date) -> datetime:
    """The first instant after a Beijing calendar day."""
    return day_start(day + timedelta(days=1))


def sample_scope(scope: Scope) -> ColumnElement[bool]:
    if scope.everything:
        return true()
    if scope.region_paths:
        return CallbackSample.region_code.in_(scope.region_codes())
    return false()


def item_scope(scope: Scope) -> ColumnElement[bool]:
    if scope.everything:
        return true()
    if scope.region_paths:
        return CallbackItem.region_code.in_(scope.region_codes())
    return false()


def channel_name(channel: int | None) -> str:
    if channel is None:
        return "—"
    try:
        return CHANNEL_NAMES[Channel(channel)]
    except ValueError:
        return str(channel)


def outcome_name(outcome: str | None) -> str:
    return OUTCOME_NAMES.get(outcome, outcome) if outcome else PENDING_NAME


def rate(denied: int, confirmed: int) -> float | None:
    """Denial rate (C10): denied / (confirmed + denied), the raters reached who deny."""
    reached = denied + confirmed
    return denied / reached if reached else None


def tally_of(key: str, name: str, outcomes: Iterable[str | None]) -> Tally:
    tally = Tally(key=key, name=name)
    for outcome in outcomes:
        tally.drawn += 1
        if outcome == Outcome.confirmed.value:
            tally.confirmed += 1
        elif outcome == Outcome.denied.value:
            tally.denied += 1
        elif outcome == Outcome.unreachable.value:
            tally.unreachable += 1
        else:
            tally.pending += 1
    tally.denial_rate = rate(tally.denied, tally.confirmed)
    return tally


# ---- items -------------------------------------------------------------------------------

_Org = aliased(Organization)
_Window = aliased(Window)
_Staff = aliased(Staff)
_Region = aliased(Region)

ITEM_ROW = (
    select(
        CallbackItem,
        Case.case_no,
        Case.applicant_phone,
        _Region.name.label("region_name"),
        _Org.name.label("org_name"),
        _Window.name.label("window_name"),
        _Staff.name.label("staff_name"),
    )
    .join(Case, Case.id == CallbackItem.case_id)
    .join(_Region, _Region.code == CallbackItem.region_code)
    .join(_Org, _Org.id == CallbackItem.org_id)
    .outerjoin(_Window, _Window.id == CallbackItem.window_id)
    .outerjoin(_Staff, _Staff.id == CallbackItem.staff_id)
)


def event_out(event: CallbackEvent) -> EventOut:
    return EventOut(
        at=event.at,
        actor=event.actor,
        action=event.action,
        action_name=ACTION_NAMES.get(event.action, event.action),
        from_outcome=event.from_outcome,
        to_outcome=event.to_outcome,
        note=event.note,
    )


def item_out(row: Any, events: Sequence[CallbackEvent] = (), phone: str | None = None) -> ItemOut:
    """An item as shown; the phone masked unless ``phone`` (a reveal's clear value) is given."""
    item: CallbackItem = row[0]
    return ItemOut(
        id=item.id,
        sample_id=item.sample_id,
        position=item.position,
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
        phone=phone if phone is not None else mask_phone(row.applicant_phone),
        phone_clear=phone is not None,
        outcome=Outcome(item.outcome) if item.outcome else None,
        outcome_name=outcome_name(item.outcome),
        attempts=item.attempts,
        stated_level=item.stated_level,
        note=item.note,
        outcome_at=item.outcome_at,
        outcome_by=item.outcome_by,
        events=[event_out(e) for e in events],
    )


def item_row(session: Session, item_id: int, scope: Scope) -> Any:
    row = session.execute(ITEM_ROW.where(CallbackItem.id == item_id, item_scope(scope))).first()
    if row is None:
        raise item_not_found(item_id)
    return row


def item_not_found(item_id: int) -> NotFound:
    return NotFound("callback_item_not_found", "未找到该回访记录", details={"id": item_id})


def get_item(*, session: Session, item_id: int, scope: Scope) -> ItemOut:
    """One sampled item with its history, phone masked; absent if outside ``scope``."""
    row = item_row(session, item_id, scope)
    events = session.scalars(
        select(CallbackEvent).where(CallbackEvent.item_id == item_id).order_by(CallbackEvent.id)
    ).all()
    return item_out(row, events)


# ---- samples -----------------------------------------------------------------------------


def sample_not_found(sample_id: int) -> NotFound:
    return NotFound("callback_sample_not_found", "未找到该抽查样本", details={"id": sample_id})


def _tallies(session: Session, sample_ids: Sequence[int]) -> dict[int, list[str | None]]:
    found: dict[int, list[str | None]] = defaultdict(list)
    if sample_ids:
        for sample_id, outcome in session.execute(
            select(CallbackItem.sample_id, CallbackItem.outcome).where(
                CallbackItem.sample_id.in_(sample_ids)
            )
        ):
            found[sample_id].append(outcome)
    return found


def _summaries(session: Session, samples: Sequence[CallbackSample]) -> list[SampleSummary]:
    regions = _pairs(
        session.execute(
            select(Region.code, Region.name).where(
                Region.code.in_({s.region_code for s in samples})
            )
        )
    )
    orgs = _pairs(
        session.execute(
            select(Organization.id, Organization.name).where(
                Organization.id.in_({s.org_id for s in samples if s.org_id})
            )
        )
    )
    staff = _pairs(
        session.execute(
            select(Staff.id, Staff.name).where(
                Staff.id.in_({s.staff_id for s in samples if s.staff_id})
            )
        )
    )
    outcomes = _tallies(session, [s.id for s in samples])
    return [
        SampleSummary(
            id=s.id,
            region_code=s.region_code,
            region_name=regions.get(s.region_code, s.region_code),
            period_from=s.period_from,
            period_to=s.period_to,
            org_name=orgs.get(s.org_id) if s.org_id else None,
            staff_name=staff.get(s.staff_id) if s.staff_id else None,
            channel=s.channel,
            channel_name=channel_name(s.channel) if s.channel else None,
            requested_size=s.requested_size,
            eligible=s.eligible,
            size=s.size,
            seed=s.seed,
            method=s.method,
            status=SampleStatus(s.status),
            status_name=STATUS_NAMES.get(s.status, s.status),
            note=s.note,
            created_by=s.created_by,
            created_at=s.created_at,
            closed_at=s.closed_at,
            tally=tally_of(str(s.id), f"第 {s.id} 号样本", outcomes.get(s.id, [])),
        )
        for s in samples
    ]


def list_samples(
    *, session: Session, scope: Scope, page: int = 1, page_size: int = 20
) -> tuple[int, list[SampleSummary]]:
    """Samples inside ``scope``, newest first, one page at a time."""
    page_checked(page, page_size)
    total = int(
        session.scalar(select(func.count(CallbackSample.id)).where(sample_scope(scope))) or 0
    )
    samples = session.scalars(
        select(CallbackSample)
        .where(sample_scope(scope))
        .order_by(CallbackSample.created_at.desc(), CallbackSample.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return total, _summaries(session, samples)


def get_sample(
    *, session: Session, sample_id: int, scope: Scope, revealed: dict[int, str | None] | None = None
) -> SampleOut:
    """One sample with its items (phones masked, except those in ``revealed``: item id → the
    clear phone of an audited reveal) and its history; absent if outside ``scope``."""
    sample = session.scalar(
        select(CallbackSample).where(CallbackSample.id == sample_id, sample_scope(scope))
    )
    if sample is None:
        raise sample_not_found(sample_id)
    (summary,) = _summaries(session, [sample])
    events = session.scalars(
        select(CallbackEvent).where(CallbackEvent.sample_id == sample_id).order_by(CallbackEvent.id)
    ).all()
    by_item: dict[int | None, list[CallbackEvent]] = defaultdict(list)
    for event in events:
        by_item[event.item_id].append(event)
    rows = session.execute(
        ITEM_ROW.where(CallbackItem.sample_id == sample_id).order_by(CallbackItem.position)
    ).all()
    revealed = revealed or {}
    items = [item_out(row, by_item.get(row[0].id, ()), revealed.get(row[0].id)) for row in rows]
    return SampleOut(
        **summary.model_dump(),
        items=items,
        events=[event_out(e) for e in by_item.get(None, [])],
    )
