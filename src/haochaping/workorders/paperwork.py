"""The order's two documents (F5; RA 附件4 转办登记表, 附件5 调查整改报告), filled from the order
and its timeline. The rater's name and phone are masked (C9) whoever downloads them; a clerk of
the rated window sees no rater at all (C10)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.principal import Principal
from haochaping.cases.models import Case
from haochaping.catalog.models import Organization, Region, ServiceItem, Staff, Window
from haochaping.clock import BEIJING
from haochaping.evaluations.models import Evaluation
from haochaping.policy import service as policy_service
from haochaping.privacy import mask_name, mask_phone
from haochaping.workorders import documents
from haochaping.workorders.models import OrderSource, WorkOrder, WorkOrderEvent
from haochaping.workorders.procedure import Action
from haochaping.workorders.service import load_order

DocumentKind = Literal["transfer", "report"]


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(BEIJING)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def _day(value: datetime | None) -> str:
    if value is None:
        return ""
    local = value.astimezone(BEIJING)
    return f"{local.year}年{local.month}月{local.day}日"


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _who(actor: str) -> str:
    return actor.split(":", 1)[-1]


class _Facts:
    """What both documents say, read once."""

    def __init__(self, session: Session, principal: Principal, order: WorkOrder) -> None:
        self.order = order
        self.case = session.get(Case, order.case_id) if order.case_id else None
        self.evaluation = (
            session.get(Evaluation, order.evaluation_id) if order.evaluation_id else None
        )
        self.profile = policy_service.get_profile(name=order.profile_name)
        self.item_name = (
            session.scalar(select(ServiceItem.name).where(ServiceItem.id == self.case.item_id))
            if self.case
            else None
        ) or ""
        self.region_name = session.scalar(
            select(Region.name).where(Region.code == order.region_code)
        )
        self.org_name = (
            session.scalar(select(Organization.name).where(Organization.id == order.org_id)) or ""
        )
        self.window_name = (
            session.scalar(select(Window.name).where(Window.id == order.window_id))
            if order.window_id
            else None
        ) or self.org_name
        self.staff_name = (
            session.scalar(select(Staff.name).where(Staff.id == order.staff_id))
            if order.staff_id
            else None
        )
        events = session.scalars(
            select(WorkOrderEvent)
            .where(WorkOrderEvent.order_id == order.id)
            .order_by(WorkOrderEvent.at, WorkOrderEvent.id)
        ).all()
        self.last: dict[str, WorkOrderEvent] = {e.action: e for e in events}
        if order.source == OrderSource.evaluation.value:
            name = self.case.applicant_name if self.case else None
            phone = self.case.applicant_phone if self.case else None
        else:
            name, phone = order.complainant_name, order.complainant_phone
        shown = principal.sees_identities
        self.rater_name = (mask_name(name) or "") if shown else ""
        self.rater_phone = (mask_phone(phone) or "") if shown else ""

    def complaint(self) -> str:
        e = self.evaluation
        if e is None:
            prefix = "12345热线转办：" if self.order.source == OrderSource.hotline.value else ""
            return prefix + (self.order.complaint_text or "")
        labels = self.profile.labels.by_code()
        parts = [f"评价等级：{self.profile.levels[e.level].name}"]
        names = [labels[c].name if c in labels else c for c in e.label_codes]
        if names:
            parts.append("差评选项：" + "；".join(names))
        if e.text:
            parts.append("评价内容：" + e.text)
        return "\n".join(parts)

    def note_of(self, action: Action) -> str:
        event = self.last.get(action.value)
        return (event.note or "") if event else ""


def build(
    *, session: Session, principal: Principal, order_no: str, kind: DocumentKind
) -> tuple[str, bytes]:
    """The file name and the .docx content of one of the order's documents."""
    order = load_order(session=session, principal=principal, order_no=order_no)
    facts = _Facts(session, principal, order)
    filename = documents.document_filename(kind, order.order_no)
    if kind == "transfer":
        return filename, documents.transfer_form_docx(_transfer_form(facts))
    return filename, documents.investigation_report_docx(_report(facts))


def _transfer_form(f: _Facts) -> documents.TransferForm:
    order = f.order
    transfer = f.last.get(Action.transfer.value)
    verify = f.last.get(Action.verify.value)
    satisfied = {True: "是", False: "否", None: ""}[order.rater_satisfied]
    source_kind = {
        OrderSource.onsite.value: 1,
        OrderSource.evaluation.value: 2,
    }.get(order.source, 0)
    return documents.TransferForm(
        order_no=order.order_no,
        rater_name=f.rater_name,
        rater_gender="",
        rated_at=_when(f.evaluation.rated_at if f.evaluation else order.received_at),
        contact=f.rater_phone,
        case_no=f.case.case_no if f.case else (order.case_no_given or ""),
        item_name=f.item_name,
        transferred_at=_when(order.transferred_at),
        source_kind=source_kind,
        complaint=f.complaint(),
        signed_by=_who(transfer.actor) if transfer else "",
        signed_at=_when(transfer.at) if transfer else "",
        investigator=_who(verify.actor) if verify else "",
        investigated=f.rater_name,
        investigated_phone=f.rater_phone,
        measures=order.measures or "",
        satisfied=satisfied,
        leader_opinion=f.note_of(Action.leader_approve),
        office_name=f"{f.region_name or ''}政务服务管理办公室",
    )


def _report(f: _Facts) -> documents.InvestigationReport:
    order = f.order
    level_name = f.profile.levels[f.evaluation.level].name if f.evaluation else "不满意"
    applicant = f"申请人：{f.rater_name or '（不公开）'}"
    if f.rater_phone:
        applicant += f"，电话号码：{f.rater_phone}"
    reception = [f"经办人员：{f.staff_name or '（未记录）'}，{f.window_name}。"]
    reception += _lines(f.note_of(Action.verify))
    investigation = [
        f"{f.window_name}于{_day(order.transferred_at) or _day(order.received_at)}"
        "收到差评办件反馈和核查要求后，立即开展调查核实。",
        *_lines(order.report_text),
    ]
    return documents.InvestigationReport(
        order_no=order.order_no,
        case_no=f.case.case_no if f.case else (order.case_no_given or order.order_no),
        occurred_on=_day(f.evaluation.rated_at if f.evaluation else order.received_at),
        window_name=f.window_name,
        level_name=level_name,
        applicant_line=applicant + "。",
        item_name=f.item_name,
        case_serial=f.case.case_no if f.case else (order.case_no_given or ""),
        complaint=f.complaint(),
        reception=reception,
        investigation=investigation,
        measures=_lines(order.measures),
    )
