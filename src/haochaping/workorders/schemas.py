"""API shapes of work orders (F1-F5)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from haochaping.inputs import InputModel
from haochaping.policy.schemas import Cause
from haochaping.workorders.models import OrderSource, Verdict
from haochaping.workorders.procedure import Action

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Short = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9-]{5,20}$")]


class ComplaintIn(InputModel):
    """An on-site complaint (RA 附件2) or one transferred from the 12345 hotline (HB Art.14),
    with or without a case number. Without one, the organisation must be named."""

    source: Literal["onsite", "hotline"]
    case_no: str | None = Field(None, max_length=64)
    org_code: str | None = Field(None, max_length=50)
    window_code: str | None = Field(None, max_length=50)
    staff_code: str | None = Field(None, max_length=50)
    complainant_name: Short | None = None
    complainant_phone: Phone | None = None
    text: Text = Field(min_length=1)
    # The hotline's own ticket number, kept for the written feedback to 12345 (F2).
    hotline_ticket: Short | None = None

    @model_validator(mode="after")
    def _where(self) -> ComplaintIn:
        if not self.case_no and not self.org_code:
            raise ValueError("须提供办件编号（case_no）或责任机构编码（org_code）")
        return self


class ActionIn(InputModel):
    """One step of the procedure. Which fields an action needs is checked by the service
    and refused with ``workorder_field_required`` naming the field."""

    action: Action
    # The order's version the official saw: a stale page cannot move the order (409).
    version: int | None = Field(None, ge=1)
    note: Text | None = None
    verdict: Verdict | None = None
    cause: Cause | None = None
    measures: Text | None = None
    responsible_person: Short | None = None
    report_text: Text | None = None
    # A ledger's new deadline (台账, F1 F4): the last day, Beijing time.
    new_due_date: date | None = None
    feedback_text: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=140)] | None
    ) = None
    outcome: Literal["satisfied", "unsatisfied", "unreachable"] | None = None
    # check_appeal / approve_appeal: passed on or not; decide_appeal: upheld or not.
    approved: bool | None = None


class StepOut(BaseModel):
    state: str
    state_label: str
    started_at: datetime
    due_at: datetime | None
    due_rule: str | None
    estimated: bool
    completed_at: datetime | None
    warned_at: datetime | None
    overdue_at: datetime | None
    overdue_seconds: int
    # Seconds left until the deadline (negative when past), for an open step.
    seconds_left: int | None


class EventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    party: str
    party_label: str
    action: str
    action_label: str
    from_state: str | None
    to_state: str | None
    note: str | None
    data: dict[str, object]
    attachments: list[AttachmentOut] = []


class AttachmentOut(BaseModel):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime


class EvaluationBrief(BaseModel):
    id: int
    level: int
    level_name: str
    label_names: list[str]
    text: str | None
    channel: int | None
    rated_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None


class OrderSummary(BaseModel):
    id: int
    order_no: str
    source: OrderSource
    source_label: str
    state: str
    state_label: str
    case_no: str | None
    org_code: str
    org_name: str
    window_name: str | None
    staff_name: str | None
    region_code: str
    profile_name: str
    received_at: datetime
    due_at: datetime | None
    seconds_left: int | None
    overdue: bool
    escalated_to: str | None
    closed_at: datetime | None


class OrderPage(BaseModel):
    total: int
    page: int
    page_size: int
    items: list[OrderSummary]


class OrderOut(OrderSummary):
    version: int
    item_name: str | None
    # C9/C10: masked for everyone; a window clerk sees nothing of the rater at all.
    rater_name: str | None
    rater_phone: str | None
    real_name: bool
    complaint_text: str | None
    evaluation: EvaluationBrief | None
    verdict: str | None
    cause: str | None
    deduction_points: float
    responsible_person: str | None
    measures: str | None
    resolution: str | None
    report_text: str | None
    rater_satisfied: bool | None
    reopened: int
    transferred_at: datetime | None
    steps: list[StepOut]
    timeline: list[EventOut]
    attachments: list[AttachmentOut]
    # What the caller may do now, with the capacity they would act in.
    actions: list[ActionOption]


class ActionOption(BaseModel):
    action: str
    label: str
    actor: str


EventOut.model_rebuild()
OrderOut.model_rebuild()
