"""Entering and leaving the procedure's states: each stay is a step row with its deadline
(P2 calendar), and each deadline is two sweeper rows: a warning before it and the overdue mark
at it (F1-F5). Every change writes an event; the order's timeline is the list of events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from haochaping.bulk_insert import insert_rows, scalar_defaults
from haochaping.calendar.schemas import DueTime
from haochaping.calendar.service import WorkCalendar
from haochaping.catalog.models import Region
from haochaping.clock import BEIJING, local_date
from haochaping.deadlines import service as deadlines
from haochaping.policy.schemas import ClockUnit, Duration, WorkOrderPolicy
from haochaping.workorders.models import WorkOrder, WorkOrderEvent, WorkOrderStep
from haochaping.workorders.procedure import STEPS, Actor, State, step_duration

_STEPS = cast(Table, WorkOrderStep.__table__)
_STEP_DEFAULTS = scalar_defaults(_STEPS)

WARN_KIND = "workorder_warn"
OVERDUE_KIND = "workorder_overdue"


def event(
    session: Session,
    order: WorkOrder,
    *,
    at: datetime,
    actor: str,
    party: Actor,
    action: str,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> WorkOrderEvent:
    row = WorkOrderEvent(
        order_id=order.id,
        at=at,
        actor=actor,
        party=party.value,
        action=action,
        from_state=from_state,
        to_state=to_state,
        note=note,
        data=data or {},
    )
    session.add(row)
    return row


# The window's report and the office's steps after it: in a new round of rectification (report
# returned, appeal refused, rater unsatisfied) their periods run from the round's start.
_AFTER_RECTIFICATION = {State.head_review, State.office_check, State.leader_review, State.reporting}


def _rectification_rounds(session: Session, order: WorkOrder) -> list[WorkOrderStep]:
    return list(
        session.scalars(
            select(WorkOrderStep)
            .where(
                WorkOrderStep.order_id == order.id,
                WorkOrderStep.state == State.rectifying.value,
            )
            .order_by(WorkOrderStep.id)
        )
    )


def _anchor(order: WorkOrder, state: State, now: datetime, rounds: list[WorkOrderStep]) -> datetime:
    anchor = STEPS[state].anchor
    # Ledger entries (台账) continue a round; only a real return to rectification starts one.
    starts = [r for r in rounds if r.due_rule != "ledger"]
    if state is State.rectifying and starts:
        return now
    if state in _AFTER_RECTIFICATION and len(starts) > 1:
        return starts[-1].started_at
    if anchor == "received":
        return order.received_at
    if anchor == "transferred":
        return order.transferred_at or now
    if anchor == "appeal_filed":
        return order.appeal_filed_at or now
    return now


def due_after(calendar: WorkCalendar, anchor: datetime, duration: Duration) -> DueTime:
    """A step's deadline (P2). Working days count from the day of receipt; a thing received on
    a rest day is received on the next working day, so "当日" (0 working days) ends at 24:00 of
    that working day, never on the holiday itself."""
    if duration.unit is ClockUnit.working_days:
        day = local_date(anchor)
        moved = False
        for _ in range(60):
            working, _guess = calendar.is_working_day(day)
            if working:
                break
            day += timedelta(days=1)
            moved = True
        if moved:
            anchor = datetime.combine(day, time(0), tzinfo=BEIJING)
    return calendar.add(anchor, duration)


def end_of_day(day: date) -> datetime:
    """24:00 Beijing time of ``day`` (a ledger's new deadline, F1 F4), as UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=BEIJING).astimezone(UTC)


def _warn_at(policy: WorkOrderPolicy, due: datetime, now: datetime) -> datetime | None:
    lead = policy.warn_before
    delta = (
        timedelta(hours=lead.amount)
        if lead.unit is ClockUnit.hours
        else timedelta(days=lead.amount)
    )
    if due <= now:
        return None
    return max(now, due - delta)


def enter(
    session: Session,
    order: WorkOrder,
    state: State,
    *,
    now: datetime,
    policy: WorkOrderPolicy,
    calendar: WorkCalendar,
    due: DueTime | None = None,
    due_rule: str | None = None,
) -> WorkOrderStep:
    """Open the step of ``state`` with its deadline and schedule the sweeper's two rows."""
    if due is None:
        duration = step_duration(policy, state)
        if duration is not None:
            rounds = _rectification_rounds(session, order)
            due = due_after(calendar, _anchor(order, state, now, rounds), duration)
            due_rule = f"work_order.{STEPS[state].rule}"
            # After a ledger entry (F1, F4) the steps that follow rectification are due no
            # earlier than the ledger's own date.
            if state in _AFTER_RECTIFICATION and rounds and rounds[-1].due_rule == "ledger":
                ledger_due = rounds[-1].due_at
                if ledger_due is not None and ledger_due > due.at:
                    due, due_rule = DueTime(at=ledger_due, estimated=False), "ledger"
    step = WorkOrderStep(
        order_id=order.id,
        state=state.value,
        started_at=now,
        due_at=due.at if due else None,
        due_rule=due_rule if due else None,
        estimated=due.estimated if due else False,
    )
    session.add(step)
    session.flush()
    if due is not None:
        deadlines.schedule(
            session=session,
            kind=OVERDUE_KIND,
            subject_id=step.id,
            due_at=due.at,
            estimated=due.estimated,
        )
        warn = _warn_at(policy, due.at, now)
        if warn is not None:
            deadlines.schedule(session=session, kind=WARN_KIND, subject_id=step.id, due_at=warn)
    return step


@dataclass(frozen=True, slots=True)
class NewOrder:
    """An order just inserted, before any step: what ``enter_new`` needs of it."""

    id: int
    received_at: datetime
    profile_name: str


def enter_new(
    session: Session,
    orders: list[NewOrder],
    state: State,
    *,
    policies: list[WorkOrderPolicy],
    calendar: WorkCalendar,
) -> list[int]:
    """``enter`` for orders that have just been opened (no step yet), set-wise: one INSERT of
    all their steps and one per kind of deadline (a bulk of bad reviews). A new order has not
    been transferred nor appealed, so every step's deadline runs from its receipt (``_anchor``
    with no rounds). Returns the steps' ids."""
    if not orders:
        return []
    rows: list[dict[str, Any]] = []
    dues: dict[int, DueTime] = {}
    for order, policy in zip(orders, policies, strict=True):
        duration = step_duration(policy, state)
        due = due_after(calendar, order.received_at, duration) if duration is not None else None
        if due is not None:
            dues[order.id] = due
        rows.append(
            _STEP_DEFAULTS
            | {
                "order_id": order.id,
                "state": state.value,
                "started_at": order.received_at,
                "due_at": due.at if due else None,
                "due_rule": f"work_order.{STEPS[state].rule}" if due else None,
                "estimated": due.estimated if due else False,
            }
        )
    step_of = {
        row.order_id: row.id
        for row in insert_rows(session.connection(), _STEPS, rows, returning=("id", "order_id"))
    }
    overdue: dict[int, tuple[datetime, bool]] = {}
    warn: dict[int, tuple[datetime, bool]] = {}
    for order, policy in zip(orders, policies, strict=True):
        due = dues.get(order.id)
        if due is None:
            continue
        step_id = step_of[order.id]
        overdue[step_id] = (due.at, due.estimated)
        warn_at = _warn_at(policy, due.at, order.received_at)
        if warn_at is not None:
            warn[step_id] = (warn_at, False)
    deadlines.schedule_many(session=session, kind=OVERDUE_KIND, dues=overdue)
    deadlines.schedule_many(session=session, kind=WARN_KIND, dues=warn)
    return [step_of[o.id] for o in orders]


def open_step(session: Session, order_id: int) -> WorkOrderStep | None:
    return session.scalar(
        select(WorkOrderStep)
        .where(WorkOrderStep.order_id == order_id, WorkOrderStep.completed_at.is_(None))
        .order_by(WorkOrderStep.id.desc())
        .limit(1)
    )


def leave(session: Session, order: WorkOrder, now: datetime) -> WorkOrderStep | None:
    """Complete the open step: its overdue time is kept for statistics (F6)."""
    step = open_step(session, order.id)
    if step is None:
        return None
    step.completed_at = now
    if step.due_at is not None and now > step.due_at:
        step.overdue_seconds = int((now - step.due_at).total_seconds())
    deadlines.cancel(session=session, kinds=(WARN_KIND, OVERDUE_KIND), subject_ids=[step.id])
    return step


def supervising_region(session: Session, region_code: str) -> str:
    """Where an overdue order is escalated: the office of the parent region (the province's
    own office for a province-level order)."""
    parent = session.scalar(select(Region.parent_code).where(Region.code == region_code))
    return parent or region_code


def warn(session: Session, step_id: int, now: datetime) -> None:
    """Sweeper task: a deadline is near (``warn_before`` of the profile)."""
    step = session.get(WorkOrderStep, step_id)
    if step is None or step.completed_at is not None or step.warned_at is not None:
        return
    order = session.get(WorkOrder, step.order_id)
    if order is None:
        return
    step.warned_at = now
    event(
        session,
        order,
        at=now,
        actor="system",
        party=Actor.system,
        action="due_soon",
        note="本环节即将到期，请抓紧办理",
        data={"state": step.state, "due_at": step.due_at.isoformat() if step.due_at else None},
    )


def mark_overdue(session: Session, step_id: int, now: datetime) -> None:
    """Sweeper task: the step's deadline passed with the step still open. The order is marked
    overdue and escalated to the supervising office, once (F1-F5)."""
    step = session.get(WorkOrderStep, step_id, with_for_update=True)
    if step is None or step.completed_at is not None or step.overdue_at is not None:
        return
    order = session.get(WorkOrder, step.order_id, with_for_update=True)
    if order is None:
        return
    step.overdue_at = now
    order.overdue = True
    order.escalated_to = supervising_region(session, order.region_code)
    event(
        session,
        order,
        at=now,
        actor="system",
        party=Actor.system,
        action="overdue",
        note="本环节已超过办理时限，已提请上级政务服务管理办公室督办",
        data={
            "state": step.state,
            "due_at": step.due_at.isoformat() if step.due_at else None,
            "escalated_to": order.escalated_to,
        },
    )
