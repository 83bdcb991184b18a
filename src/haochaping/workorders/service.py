"""Work orders (F1-F6): complaints, the steps of the procedure, appeals and revocation, the
inbox and the order's page, evidence files and documents.

Every function takes the caller (``Principal``): orders outside the caller's scope are answered
as absent, and each step may be taken only by the party the profile gives it to (``procedure``).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import filetype
from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, update
from sqlalchemy.orm import Session

from haochaping.access.principal import Principal
from haochaping.access.scope import region_paths
from haochaping.accounts.models import Role
from haochaping.audit import service as audit
from haochaping.audit.actions import AuditAction
from haochaping.calendar.schemas import DueTime
from haochaping.calendar.service import WorkCalendar
from haochaping.cases.models import Case
from haochaping.catalog.models import Organization, Region, ServiceItem, Staff, Window
from haochaping.clock import local_date
from haochaping.errors import Conflict, DomainError, InvalidInput, NotFound
from haochaping.evaluations.models import Credit, Evaluation
from haochaping.messaging import service as messaging
from haochaping.policy import service as policy_service
from haochaping.policy.schemas import Cause, Profile, WorkOrderPolicy
from haochaping.privacy import mask_name, mask_phone
from haochaping.statistics import queue as stat_queue
from haochaping.workorders import procedure, steps
from haochaping.workorders.intake import order_number
from haochaping.workorders.models import (
    SOURCE_LABELS,
    OrderSource,
    Verdict,
    WorkOrder,
    WorkOrderAttachment,
    WorkOrderEvent,
    WorkOrderStep,
)
from haochaping.workorders.procedure import (
    ACTION_LABELS,
    ACTOR_LABELS,
    FINAL_STATES,
    STATE_LABELS,
    Action,
    Actor,
    State,
)
from haochaping.workorders.schemas import (
    ActionIn,
    ActionOption,
    AttachmentOut,
    ComplaintIn,
    EvaluationBrief,
    EventOut,
    OrderOut,
    OrderPage,
    OrderSummary,
    StepOut,
)


class NotYourStep(DomainError):
    status_code = 403


# --- who may act -------------------------------------------------------------------------------


def _path_codes(session: Session, region_code: str) -> list[str]:
    path = region_paths(session, {region_code}).get(region_code, f"/{region_code}/")
    return [code for code in path.strip("/").split("/") if code]


def capacities(session: Session, principal: Principal, order: WorkOrder) -> set[Actor]:
    """The parties the caller can act as for this order, from their role grants."""
    if principal.kind != "user":
        return set()
    codes = _path_codes(session, order.region_code)
    found: set[Actor] = set()
    for g in principal.grants:
        if g.role is Role.supervisor and g.region_code in codes:
            found.add(Actor.office)
            if g.region_code != order.region_code:
                found.add(Actor.upper_office)
        elif g.role is Role.leader and g.region_code in codes:
            found.add(Actor.leader)
        elif g.role is Role.org_manager and g.org_id == order.org_id:
            found.update({Actor.head, Actor.window})
        elif (
            g.role is Role.window_staff
            and order.staff_id is not None
            and g.staff_id == order.staff_id
        ):
            found.add(Actor.window)
    return found


def available_actions(
    session: Session, principal: Principal, order: WorkOrder, policy: WorkOrderPolicy
) -> list[ActionOption]:
    if order.state not in State.__members__:
        return []
    state = State(order.state)
    mine = capacities(session, principal, order)
    options = []
    for transition in procedure.TRANSITIONS:
        if not procedure.allowed(policy, state, transition.action):
            continue
        actor = procedure.performer(policy, transition.action)
        if actor in mine:
            options.append(
                ActionOption(
                    action=transition.action.value,
                    label=ACTION_LABELS[transition.action],
                    actor=ACTOR_LABELS[actor],
                )
            )
    return options


# --- reading -----------------------------------------------------------------------------------


def _in_scope(principal: Principal) -> ColumnElement[bool]:
    return principal.scope.units_clause(
        region_code=WorkOrder.region_code, org_id=WorkOrder.org_id, staff_id=WorkOrder.staff_id
    )


def _load(
    session: Session, principal: Principal, order_no: str, *, for_update: bool = False
) -> WorkOrder:
    stmt = select(WorkOrder).where(WorkOrder.order_no == order_no, _in_scope(principal))
    if for_update:
        stmt = stmt.with_for_update()
    order = session.scalar(stmt)
    if order is None:
        raise NotFound("workorder_not_found", "未找到该工单", details={"order_no": order_no})
    return order


@dataclass(frozen=True)
class OrderFilter:
    states: Sequence[str] = ()
    source: str | None = None
    org_code: str | None = None
    window_code: str | None = None
    staff_code: str | None = None
    region_code: str | None = None
    received_from: datetime | None = None
    received_to: datetime | None = None
    # "due_soon": an open step due within ``due_within``; "overdue": past its deadline.
    timing: Literal["due_soon", "overdue"] | None = None
    due_within: timedelta = timedelta(hours=24)
    # Only the orders waiting for a step the caller takes (their inbox).
    mine: bool = False
    escalated: bool = False
    query: str | None = None


SORTS = {"received": WorkOrder.received_at, "due": WorkOrderStep.due_at, "no": WorkOrder.order_no}


def _mine_clause(principal: Principal) -> ColumnElement[bool]:
    """Orders in a state whose step a party of the caller's roles takes, per profile (the
    profile decides who verifies, who tells the rater, who decides an appeal)."""
    roles = {g.role for g in principal.grants}
    actors: set[Actor] = set()
    if Role.supervisor in roles:
        actors.update({Actor.office, Actor.upper_office})
    if Role.leader in roles:
        actors.add(Actor.leader)
    if Role.org_manager in roles:
        actors.update({Actor.head, Actor.window})
    if Role.window_staff in roles:
        actors.add(Actor.window)
    conds = []
    for name in policy_service.profile_names():
        policy = policy_service.get_profile(name=name).work_order
        states = {
            state.value
            for t in procedure.TRANSITIONS
            if procedure.performer(policy, t.action) in actors
            and procedure.exists_under(policy, t.action)
            for state in t.sources
        }
        if states:
            conds.append(and_(WorkOrder.profile_name == name, WorkOrder.state.in_(sorted(states))))
    return or_(*conds) if conds else false()


def list_orders(
    *,
    session: Session,
    principal: Principal,
    now: datetime,
    filters: OrderFilter,
    sort: str = "received",
    descending: bool = True,
    page: int = 1,
    page_size: int = 50,
) -> OrderPage:
    """The inbox: orders in scope, filtered, sorted, paged, each with its open deadline."""
    open_step = (
        select(WorkOrderStep.order_id, WorkOrderStep.due_at)
        .where(WorkOrderStep.completed_at.is_(None))
        .subquery()
    )
    stmt: Select[Any] = (
        select(WorkOrder, open_step.c.due_at)
        .outerjoin(open_step, open_step.c.order_id == WorkOrder.id)
        .where(_in_scope(principal))
    )
    stmt = _filtered(session, stmt, filters, open_step.c.due_at, principal, now)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    key = open_step.c.due_at if sort == "due" else SORTS.get(sort, WorkOrder.received_at)
    ordering = key.desc() if descending else key.asc()
    rows = session.execute(
        stmt.order_by(ordering.nulls_last(), WorkOrder.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    names = _names(session, [o for o, _ in rows])
    return OrderPage(
        total=total,
        page=page,
        page_size=page_size,
        items=[_summary(o, due, names, now) for o, due in rows],
    )


def _filtered(
    session: Session,
    stmt: Select[Any],
    f: OrderFilter,
    due: ColumnElement[datetime],
    principal: Principal,
    now: datetime,
) -> Select[Any]:
    if f.states:
        stmt = stmt.where(WorkOrder.state.in_(list(f.states)))
    if f.source:
        stmt = stmt.where(WorkOrder.source == f.source)
    if f.org_code:
        stmt = stmt.where(
            WorkOrder.org_id.in_(select(Organization.id).where(Organization.code == f.org_code))
        )
    if f.window_code:
        stmt = stmt.where(
            WorkOrder.window_id.in_(select(Window.id).where(Window.code == f.window_code))
        )
    if f.staff_code:
        stmt = stmt.where(
            WorkOrder.staff_id.in_(select(Staff.id).where(Staff.code == f.staff_code))
        )
    if f.region_code:
        path = region_paths(session, {f.region_code}).get(f.region_code)
        if path is None:
            return stmt.where(false())
        stmt = stmt.where(
            WorkOrder.region_code.in_(
                select(Region.code).where(Region.path.startswith(path, autoescape=True))
            )
        )
    if f.received_from:
        stmt = stmt.where(WorkOrder.received_at >= f.received_from)
    if f.received_to:
        stmt = stmt.where(WorkOrder.received_at < f.received_to)
    if f.timing == "due_soon":
        stmt = stmt.where(due > now, due <= now + f.due_within)
    elif f.timing == "overdue":
        stmt = stmt.where(or_(due <= now, WorkOrder.overdue.is_(True)))
        stmt = stmt.where(WorkOrder.state.not_in([s.value for s in FINAL_STATES]))
    if f.mine:
        stmt = stmt.where(_mine_clause(principal))
    if f.escalated:
        stmt = stmt.where(WorkOrder.escalated_to.is_not(None))
    if f.query:
        case_ids = select(Case.id).where(Case.case_no == f.query)
        stmt = stmt.where(or_(WorkOrder.order_no == f.query, WorkOrder.case_id.in_(case_ids)))
    return stmt


@dataclass
class _Names:
    orgs: dict[int, tuple[str, str]]
    windows: dict[int, str]
    staff: dict[int, str]
    cases: dict[int, str]


def _names(session: Session, orders: Sequence[WorkOrder]) -> _Names:
    org_ids = {o.org_id for o in orders}
    window_ids = {o.window_id for o in orders if o.window_id}
    staff_ids = {o.staff_id for o in orders if o.staff_id}
    case_ids = {o.case_id for o in orders if o.case_id}
    return _Names(
        orgs={
            i: (c, n)
            for i, c, n in session.execute(
                select(Organization.id, Organization.code, Organization.name).where(
                    Organization.id.in_(org_ids)
                )
            )
        },
        windows=_pairs(session, select(Window.id, Window.name).where(Window.id.in_(window_ids))),
        staff=_pairs(session, select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids))),
        cases=_pairs(session, select(Case.id, Case.case_no).where(Case.id.in_(case_ids))),
    )


def _pairs(session: Session, stmt: Select[int, str]) -> dict[int, str]:
    return {key: value for key, value in session.execute(stmt)}


def _seconds_left(due: datetime | None, now: datetime) -> int | None:
    return int((due - now).total_seconds()) if due is not None else None


def _summary(order: WorkOrder, due: datetime | None, names: _Names, now: datetime) -> OrderSummary:
    org_code, org_name = names.orgs.get(order.org_id, ("", ""))
    final = order.state in {s.value for s in FINAL_STATES}
    return OrderSummary(
        id=order.id,
        order_no=order.order_no,
        source=OrderSource(order.source),
        source_label=SOURCE_LABELS[OrderSource(order.source)],
        state=order.state,
        state_label=STATE_LABELS[State(order.state)],
        case_no=names.cases.get(order.case_id or 0) or order.case_no_given,
        org_code=org_code,
        org_name=org_name,
        window_name=names.windows.get(order.window_id or 0),
        staff_name=names.staff.get(order.staff_id or 0),
        region_code=order.region_code,
        profile_name=order.profile_name,
        received_at=order.received_at,
        due_at=None if final else due,
        seconds_left=None if final else _seconds_left(due, now),
        overdue=order.overdue,
        escalated_to=order.escalated_to,
        closed_at=order.closed_at,
    )


def get_order(*, session: Session, principal: Principal, order_no: str, now: datetime) -> OrderOut:
    order = _load(session, principal, order_no)
    return describe(session=session, principal=principal, order=order, now=now)


def describe(
    *, session: Session, principal: Principal, order: WorkOrder, now: datetime
) -> OrderOut:
    """The order's page: case, evaluation (rater masked, C9 C10), steps with time left,
    timeline, files, and the steps the caller may take now."""
    profile = policy_service.get_profile(name=order.profile_name)
    names = _names(session, [order])
    step_rows = session.scalars(
        select(WorkOrderStep).where(WorkOrderStep.order_id == order.id).order_by(WorkOrderStep.id)
    ).all()
    open_due = next((s.due_at for s in step_rows if s.completed_at is None), None)
    attachments = session.scalars(
        select(WorkOrderAttachment)
        .where(WorkOrderAttachment.order_id == order.id)
        .order_by(WorkOrderAttachment.id)
    ).all()
    by_event: dict[int, list[AttachmentOut]] = {}
    for a in attachments:
        if a.event_id is not None:
            by_event.setdefault(a.event_id, []).append(_attachment_out(a))
    events = session.scalars(
        select(WorkOrderEvent)
        .where(WorkOrderEvent.order_id == order.id)
        .order_by(WorkOrderEvent.at, WorkOrderEvent.id)
    ).all()
    case = session.get(Case, order.case_id) if order.case_id else None
    item_name = (
        session.scalar(select(ServiceItem.name).where(ServiceItem.id == case.item_id))
        if case
        else None
    )
    rater_name, rater_phone = _rater(order, case)
    shown = principal.sees_identities
    summary = _summary(order, open_due, names, now)
    return OrderOut(
        **summary.model_dump(),
        version=order.version,
        item_name=item_name,
        rater_name=mask_name(rater_name) if shown else None,
        rater_phone=mask_phone(rater_phone) if shown else None,
        real_name=order.real_name,
        complaint_text=order.complaint_text,
        evaluation=_evaluation_brief(session, profile, order.evaluation_id),
        verdict=order.verdict,
        cause=order.cause,
        deduction_points=order.deduction_points,
        responsible_person=order.responsible_person,
        measures=order.measures,
        resolution=order.resolution,
        report_text=order.report_text,
        rater_satisfied=order.rater_satisfied,
        reopened=order.reopened,
        transferred_at=order.transferred_at,
        steps=[
            StepOut(
                state=s.state,
                state_label=STATE_LABELS[State(s.state)],
                started_at=s.started_at,
                due_at=s.due_at,
                due_rule=s.due_rule,
                estimated=s.estimated,
                completed_at=s.completed_at,
                warned_at=s.warned_at,
                overdue_at=s.overdue_at,
                overdue_seconds=s.overdue_seconds,
                seconds_left=_seconds_left(s.due_at, now) if s.completed_at is None else None,
            )
            for s in step_rows
        ],
        timeline=[
            EventOut(
                id=e.id,
                at=e.at,
                actor=e.actor,
                party=e.party,
                party_label=ACTOR_LABELS.get(Actor(e.party), e.party),
                action=e.action,
                action_label=_event_label(e.action),
                from_state=e.from_state,
                to_state=e.to_state,
                note=e.note,
                data=e.data,
                attachments=by_event.get(e.id, []),
            )
            for e in events
        ],
        attachments=[_attachment_out(a) for a in attachments],
        actions=available_actions(session, principal, order, profile.work_order),
    )


EVENT_LABELS = {
    "opened": "生成差评工单",
    "registered": "登记投诉",
    "due_soon": "即将到期提醒",
    "overdue": "超期督办",
    "attached": "上传佐证材料",
}


def _event_label(action: str) -> str:
    if action in Action.__members__:
        return ACTION_LABELS[Action(action)]
    return EVENT_LABELS.get(action, action)


def _rater(order: WorkOrder, case: Case | None) -> tuple[str | None, str | None]:
    if order.source != OrderSource.evaluation.value:
        return order.complainant_name, order.complainant_phone
    if case is None:
        return None, None
    return case.applicant_name, case.applicant_phone


def _evaluation_brief(
    session: Session, profile: Profile, evaluation_id: int | None
) -> EvaluationBrief | None:
    if evaluation_id is None:
        return None
    e = session.get(Evaluation, evaluation_id)
    if e is None:
        return None
    labels = profile.labels.by_code()
    return EvaluationBrief(
        id=e.id,
        level=e.level,
        level_name=profile.levels[e.level].name,
        label_names=[labels[c].name if c in labels else c for c in e.label_codes],
        text=e.text,
        channel=e.channel,
        rated_at=e.rated_at,
        revoked_at=e.revoked_at,
        revoked_reason=e.revoked_reason,
    )


def _attachment_out(a: WorkOrderAttachment) -> AttachmentOut:
    return AttachmentOut(
        id=a.id,
        filename=a.filename,
        content_type=a.content_type,
        size=a.size,
        sha256=a.sha256,
        uploaded_by=a.uploaded_by,
        uploaded_at=a.uploaded_at,
    )


# --- intake of complaints ----------------------------------------------------------------------


def register_complaint(
    *, session: Session, principal: Principal, data: ComplaintIn, now: datetime
) -> OrderOut:
    """RA 附件2 (现场投诉) and HB Art.14 (12345): the office, or the hotline platform, registers
    a complaint; it is routed like a bad review (F4), with or without a case number."""
    case: Case | None = None
    if data.case_no:
        case = session.scalar(select(Case).where(Case.case_no == data.case_no))
    if case is not None:
        org_id, region_code = case.org_id, case.region_code
        window_id, staff_id = case.window_id, case.staff_id
    else:
        if not data.org_code:
            raise NotFound(
                "case_not_found",
                "未找到该办件，请同时填写责任机构编码",
                details={"case_no": data.case_no},
            )
        org = session.scalar(select(Organization).where(Organization.code == data.org_code))
        if org is None:
            raise NotFound("org_not_found", "未找到该责任机构", details={"org_code": data.org_code})
        org_id, region_code = org.id, org.region_code
        window_id = staff_id = None
    if data.window_code:
        window_id = _id_of(session, Window, data.window_code, "window_not_found", "未找到该窗口")
    if data.staff_code:
        staff_id = _id_of(session, Staff, data.staff_code, "staff_not_found", "未找到该工作人员")
    if not principal.scope.contains_org(session, org_id, region_code):
        raise NotFound("org_not_found", "未找到该责任机构", details={"org_code": data.org_code})
    profile = policy_service.profile_for_region(session=session, region_code=region_code)
    order = WorkOrder(
        # Numbered from its id just below (``order_number``).
        order_no=f"new-{uuid.uuid4().hex[:24]}",
        source=data.source,
        state=State.registered.value,
        case_id=case.id if case else None,
        case_no_given=data.case_no if case is None else None,
        org_id=org_id,
        region_code=region_code,
        window_id=window_id,
        staff_id=staff_id,
        line_id=case.line_id if case else None,
        item_id=case.item_id if case else None,
        profile_name=profile.name,
        profile_version=profile.version,
        complainant_name=data.complainant_name,
        complainant_phone=data.complainant_phone,
        complaint_text=data.text,
        real_name=bool(data.complainant_phone),
        received_at=now,
        updated_at=now,
    )
    session.add(order)
    session.flush()
    order.order_no = order_number("TS", now, order.id)
    steps.event(
        session,
        order,
        at=now,
        actor=principal.actor,
        party=Actor.office if principal.kind == "user" else Actor.system,
        action="registered",
        to_state=State.registered.value,
        note="现场投诉登记" if data.source == "onsite" else "12345热线转办",
        data={"hotline_ticket": data.hotline_ticket} if data.hotline_ticket else {},
    )
    steps.enter(
        session,
        order,
        State.registered,
        now=now,
        policy=profile.work_order,
        calendar=WorkCalendar.load(session),
    )
    session.flush()
    return describe(session=session, principal=principal, order=order, now=now)


def _id_of(
    session: Session, model: type[Window] | type[Staff], code: str, err: str, msg: str
) -> int:
    found = session.scalar(select(model.id).where(model.code == code))
    if found is None:
        raise NotFound(err, msg, details={"code": code})
    return found


# --- the steps -----------------------------------------------------------------------------------


FIELD_NAMES = {
    "note": "说明",
    "verdict": "核实结论",
    "cause": "差评原因分类",
    "measures": "整改措施",
    "responsible_person": "责任人",
    "report_text": "调查整改报告",
    "new_due_date": "新的整改期限",
    "feedback_text": "告知评价人的内容",
    "outcome": "回访结果",
    "approved": "审核意见（同意或不同意）",
}


def _need(data: ActionIn, *fields: str) -> None:
    for name in fields:
        value = getattr(data, name)
        if value is None or value == "":
            raise InvalidInput(
                "workorder_field_required",
                f"请填写{FIELD_NAMES[name]}",
                details={"field": name, "action": data.action.value},
            )


def perform(
    *, session: Session, principal: Principal, order_no: str, data: ActionIn, now: datetime
) -> OrderOut:
    """Take one step of the procedure (F1-F5): checked against the table of transitions, the
    caller's party for the step, the fields the step needs and the version the caller saw."""
    order = _load(session, principal, order_no, for_update=True)
    if data.version is not None and data.version != order.version:
        raise Conflict(
            "workorder_stale",
            "该工单已被他人处理，请刷新页面后重试",
            details={"version": order.version},
        )
    profile = policy_service.get_profile(name=order.profile_name)
    policy = profile.work_order
    state, action = procedure.check(policy, order.state, data.action.value)
    actor = procedure.performer(policy, action)
    if actor not in capacities(session, principal, order):
        raise NotYourStep(
            "workorder_not_your_step",
            f"此环节应由{ACTOR_LABELS[actor]}办理",
            details={"action": action.value, "actor": actor.value},
        )
    calendar = WorkCalendar.load(session)
    target, due, extra = _apply(session, order, action, data, profile, now, principal)
    steps.leave(session, order, now)
    steps.event(
        session,
        order,
        at=now,
        actor=principal.actor,
        party=actor,
        action=action.value,
        from_state=state.value,
        to_state=target.value,
        note=data.note,
        data=extra,
    )
    order.state = target.value
    order.version += 1
    order.updated_at = now
    if target in FINAL_STATES:
        order.closed_at = now
    else:
        steps.enter(
            session,
            order,
            target,
            now=now,
            policy=policy,
            calendar=calendar,
            due=due,
            due_rule="ledger" if due is not None else None,
        )
    session.flush()
    return describe(session=session, principal=principal, order=order, now=now)


def _classify(order: WorkOrder, policy: WorkOrderPolicy, cause: Cause) -> None:
    """F6, RA Art.10: the cause class and the deduction points the profile sets for it."""
    order.cause = cause.value
    order.deduction_points = float(policy.deductions[cause])


def _apply(
    session: Session,
    order: WorkOrder,
    action: Action,
    data: ActionIn,
    profile: Profile,
    now: datetime,
    principal: Principal,
) -> tuple[State, DueTime | None, dict[str, Any]]:
    """What the step changes on the order; returns the next state, a ledger's own deadline,
    and what the event records besides the note."""
    policy = profile.work_order
    extra: dict[str, Any] = {}
    if action is Action.transfer:
        order.transferred_at = now
        return State.verifying, None, extra
    if action is Action.verify:
        _need(data, "verdict", "note")
        assert data.verdict is not None
        if data.verdict is Verdict.true:
            _need(data, "cause")
        order.verdict = data.verdict.value
        extra["verdict"] = data.verdict.value
        if data.verdict is Verdict.true:
            assert data.cause is not None
            _classify(order, policy, data.cause)
            extra["cause"] = data.cause.value
            return State.rectifying, None, extra
        return State.appeal_pending, None, extra
    if action is Action.submit_report:
        _need(data, "measures", "responsible_person", "report_text")
        order.measures = data.measures
        order.responsible_person = data.responsible_person
        order.report_text = data.report_text
        if order.resolution != "ledger":
            order.resolution = "rectify"
        return procedure.after_report(policy), None, extra
    if action is Action.defer:
        _need(data, "note", "new_due_date")
        assert data.new_due_date is not None
        if data.new_due_date < local_date(now):
            raise InvalidInput(
                "workorder_due_in_past",
                "新的整改期限不能早于今天",
                details={"new_due_date": data.new_due_date.isoformat()},
            )
        order.resolution = "ledger"
        extra["new_due_date"] = data.new_due_date.isoformat()
        return (
            State.rectifying,
            DueTime(at=steps.end_of_day(data.new_due_date), estimated=False),
            extra,
        )
    if action is Action.explain:
        _need(data, "note", "responsible_person")
        order.resolution = "explain"
        order.measures = data.note
        order.responsible_person = data.responsible_person
        order.report_text = data.report_text or data.note
        return procedure.after_report(policy), None, extra
    if action is Action.approve_report:
        return procedure.after_head(policy), None, extra
    if action in (Action.return_report, Action.reject_rectification):
        _need(data, "note")
        return State.rectifying, None, extra
    if action is Action.confirm_rectification:
        if data.cause is not None:
            _classify(order, policy, data.cause)
            extra["cause"] = data.cause.value
        return procedure.after_office(policy), None, extra
    if action is Action.leader_approve:
        return procedure.after_leader(policy), None, extra
    if action is Action.leader_return:
        _need(data, "note")
        return (State.office_check if policy.office_verification else State.rectifying), None, extra
    if action is Action.report_upward:
        return State.feedback, None, extra
    if action is Action.send_feedback:
        _need(data, "feedback_text")
        assert data.feedback_text is not None
        extra["sms"] = _text_rater(session, order, data.feedback_text, "workorder_feedback", now)
        return State.revisit, None, extra
    if action is Action.record_revisit:
        return _revisit(session, order, data, policy, now, extra)
    if action is Action.file_appeal:
        _need(data, "note")
        order.appeal_filed_at = now
        return State.appeal_check, None, extra
    if action is Action.withdraw_appeal:
        _need(data, "cause")
        return _to_rectification(order, policy, data, extra)
    if action in (Action.check_appeal, Action.approve_appeal, Action.decide_appeal):
        _need(data, "approved")
        extra["approved"] = data.approved
        if not data.approved:
            _need(data, "note", "cause")
            return _to_rectification(order, policy, data, extra)
        if action is Action.check_appeal:
            return procedure.after_appeal_check(policy), None, extra
        if action is Action.approve_appeal:
            return State.appeal_decision, None, extra
        _need(data, "note")
        _revoke(session, order, data.note or "", now, principal)
        return State.revoked, None, extra
    raise procedure.IllegalTransition(action.value, order.state)  # pragma: no cover


def _to_rectification(
    order: WorkOrder, policy: WorkOrderPolicy, data: ActionIn, extra: dict[str, Any]
) -> tuple[State, DueTime | None, dict[str, Any]]:
    """A refused or withdrawn appeal: the bad review stands and is rectified."""
    assert data.cause is not None
    order.verdict = Verdict.true.value
    _classify(order, policy, data.cause)
    extra["cause"] = data.cause.value
    return State.rectifying, None, extra


def _revisit(
    session: Session,
    order: WorkOrder,
    data: ActionIn,
    policy: WorkOrderPolicy,
    now: datetime,
    extra: dict[str, Any],
) -> tuple[State, DueTime | None, dict[str, Any]]:
    """RA Art.8: the rater is revisited; not satisfied reopens the rectification. F4 (ZZ): a
    real-name rater must actually be reached."""
    _need(data, "outcome", "note")
    if data.outcome == "unreachable" and policy.revisit_all_real_name and order.real_name:
        raise InvalidInput(
            "workorder_revisit_required",
            "实名差评须回访到评价人本人（实名差评回访率须达到100%），暂不能办结",
            details={"real_name": True},
        )
    extra["outcome"] = data.outcome
    if data.feedback_text:
        extra["sms"] = _text_rater(session, order, data.feedback_text, "workorder_revisit", now)
    if data.outcome == "unsatisfied":
        order.rater_satisfied = False
        order.reopened += 1
        return State.rectifying, None, extra
    if data.outcome == "unreachable":
        order.rater_satisfied = None
        return State.closed, None, extra
    order.rater_satisfied = True
    return State.closed, None, extra


def _text_rater(session: Session, order: WorkOrder, text: str, purpose: str, now: datetime) -> str:
    """Feedback and revisit texts go to the SMS outbox (the Channels issue delivers them)."""
    phone: str | None
    if order.source == OrderSource.evaluation.value:
        case = session.get(Case, order.case_id) if order.case_id else None
        phone = case.applicant_phone if case else None
    else:
        phone = order.complainant_phone
    if not phone:
        return "no_phone"
    messaging.enqueue(
        session=session,
        phone=phone,
        text=f"【政务服务好差评】{text}",
        purpose=purpose,
        ref=order.order_no,
        now=now,
    )
    return "queued"


def _revoke(
    session: Session, order: WorkOrder, reason: str, now: datetime, principal: Principal
) -> None:
    """An upheld appeal (申诉撤销): the evaluation leaves every score and ranking (B2) and stays
    in the record with the decision."""
    order.deduction_points = 0.0
    if order.evaluation_id is None:
        return
    session.execute(
        update(Evaluation)
        .where(Evaluation.id == order.evaluation_id)
        .values(revoked_at=now, revoked_reason=reason)
    )
    session.execute(
        update(Credit).where(Credit.evaluation_id == order.evaluation_id).values(revoked=True)
    )
    stat_queue.evaluations_revoked(session, [order.evaluation_id])
    audit.record(
        session,
        now=now,
        actor=principal.actor,
        action=AuditAction.evaluation_revoked,
        target=f"evaluation:{order.evaluation_id}",
        details={"order_no": order.order_no, "reason": reason},
        ip=principal.ip,
    )


# --- evidence files ------------------------------------------------------------------------------

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
# Photos, recordings, videos and scanned forms (RA Art.6 "收集整理佐证材料", 附件3 "保存相关视频").
ALLOWED_TYPES = {
    "image/jpeg": "照片",
    "image/png": "照片",
    "application/pdf": "扫描件",
    "audio/mpeg": "录音",
    "audio/x-wav": "录音",
    "audio/mp4": "录音",
    "audio/x-m4a": "录音",
    "audio/amr": "录音",
    "video/mp4": "视频",
}


def add_attachment(
    *,
    session: Session,
    principal: Principal,
    order_no: str,
    filename: str,
    content: bytes,
    note: str | None,
    now: datetime,
) -> AttachmentOut:
    """Attach evidence to the order, with its own timeline event. The type is read from the
    content, never trusted from the name or the browser."""
    order = _load(session, principal, order_no, for_update=True)
    if not capacities(session, principal, order):
        raise NotYourStep("workorder_not_your_step", "您不是该工单的办理方，不能上传材料")
    if order.state in {s.value for s in FINAL_STATES}:
        raise Conflict("workorder_closed", "工单已办结，不能再上传材料")
    if not content:
        raise InvalidInput("attachment_empty", "上传的文件为空")
    if len(content) > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(
            "attachment_too_large",
            f"文件不能超过 {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB",
            details={"size": len(content), "max": MAX_ATTACHMENT_BYTES},
        )
    kind = filetype.guess(content)
    mime = kind.mime if kind is not None else None
    if mime not in ALLOWED_TYPES:
        raise InvalidInput(
            "attachment_type_refused",
            "只能上传照片（JPG、PNG）、扫描件（PDF）、录音（MP3、WAV、M4A、AMR）或视频（MP4）",
            details={"detected": mime},
        )
    name = (filename or "file").replace("\\", "/").rsplit("/", 1)[-1][:200] or "file"
    row_event = steps.event(
        session,
        order,
        at=now,
        actor=principal.actor,
        party=sorted(capacities(session, principal, order))[0],
        action="attached",
        note=note,
        data={"filename": name, "kind": ALLOWED_TYPES[mime]},
    )
    session.flush()
    row = WorkOrderAttachment(
        order_id=order.id,
        event_id=row_event.id,
        filename=name,
        content_type=mime,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        content=content,
        uploaded_by=principal.actor,
        uploaded_at=now,
    )
    session.add(row)
    session.flush()
    return _attachment_out(row)


def get_attachment(
    *, session: Session, principal: Principal, order_no: str, attachment_id: int
) -> WorkOrderAttachment:
    order = _load(session, principal, order_no)
    row = session.scalar(
        select(WorkOrderAttachment).where(
            WorkOrderAttachment.id == attachment_id, WorkOrderAttachment.order_id == order.id
        )
    )
    if row is None:
        raise NotFound("attachment_not_found", "未找到该材料", details={"id": attachment_id})
    return row


def load_order(*, session: Session, principal: Principal, order_no: str) -> WorkOrder:
    """The order row, inside the caller's scope (documents, CLI)."""
    return _load(session, principal, order_no)
