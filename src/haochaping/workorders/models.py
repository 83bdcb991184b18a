"""Work orders (差评工单, F1-F5): the order, its steps with deadlines, its events, its files."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime
from haochaping.pii.cipher import EncryptedText


class OrderSource(StrEnum):
    # RA 附件3: a bad review pushed by the system.
    evaluation = "evaluation"
    # RA 附件2: a complaint made on site to the office.
    onsite = "onsite"
    # HB Art.14: a complaint transferred from the 12345 hotline.
    hotline = "hotline"


SOURCE_LABELS: dict[OrderSource, str] = {
    OrderSource.evaluation: "“好差评”系统推送差评件",
    OrderSource.onsite: "现场投诉差评件",
    OrderSource.hotline: "12345热线转办件",
}


class Verdict(StrEnum):
    """GX Art.13, HB Art.15, GD Art.15: what the revisit and verification found."""

    true = "true"
    mistaken = "mistaken"
    malicious = "malicious"
    # GX Art.14 (F1): caused by the information system or another objective, non-window reason.
    objective = "objective"


VERDICT_LABELS: dict[Verdict, str] = {
    Verdict.true: "属实",
    Verdict.mistaken: "误评",
    Verdict.malicious: "恶意差评",
    Verdict.objective: "系统或其他客观原因",
}


class WorkOrder(Base):
    """One bad review or complaint carried through its profile's procedure."""

    __tablename__ = "work_orders"
    __table_args__ = (
        Index("ix_work_orders_state_received", "state", "received_at"),
        Index("ix_work_orders_org_state", "org_id", "state"),
        # The statistics read a period's orders (issue 6).
        Index("ix_work_orders_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(32))
    # The bad review it comes from; at most one order per evaluation.
    evaluation_id: Mapped[int | None] = mapped_column(
        ForeignKey("evaluations.id"), unique=True, default=None
    )
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)
    # A case number given with a complaint that this system does not hold.
    case_no_given: Mapped[str | None] = mapped_column(String(64), default=None)
    # 谁办理、谁负责 (F4): where the case was handled.
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"), default=None)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None, index=True)
    # Copied from the case: the statistics count orders per business line and item without
    # reading the cases (issue 6). None for a complaint without a case.
    line_id: Mapped[int | None] = mapped_column(Integer, default=None)
    item_id: Mapped[int | None] = mapped_column(Integer, default=None)
    profile_name: Mapped[str] = mapped_column(String(50))
    profile_version: Mapped[str] = mapped_column(String(80))
    # The complaint itself (on-site and hotline intakes; a bad review's text stays on it).
    complainant_name: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    complainant_phone: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    complaint_text: Mapped[str | None] = mapped_column(Text, default=None)
    # F4 (ZZ): a real-name rater, who must be revisited where the profile says so.
    real_name: Mapped[bool] = mapped_column(Boolean, default=False)
    verdict: Mapped[str | None] = mapped_column(String(16), default=None)
    # F6, RA Art.10: cause class and the deduction points it carries under the profile.
    cause: Mapped[str | None] = mapped_column(String(16), default=None)
    deduction_points: Mapped[float] = mapped_column(Float, default=0.0)
    responsible_person: Mapped[str | None] = mapped_column(String(100), default=None)
    measures: Mapped[str | None] = mapped_column(Text, default=None)
    # rectify / ledger / explain (F4): how the order was resolved.
    resolution: Mapped[str | None] = mapped_column(String(16), default=None)
    report_text: Mapped[str | None] = mapped_column(Text, default=None)
    rater_satisfied: Mapped[bool | None] = mapped_column(Boolean, default=None)
    reopened: Mapped[int] = mapped_column(Integer, default=0)
    # Some step went past its deadline; the order was escalated to this supervising region.
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated_to: Mapped[str | None] = mapped_column(String(12), default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When the office transferred it to the window (RA 附件4 转办时间): the window's deadlines
    # run from here.
    transferred_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # When the window filed its appeal (申诉撤销): the appeal's review runs from here (RA Art.9).
    appeal_filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Optimistic concurrency: two officials acting at once cannot both move the order.
    version: Mapped[int] = mapped_column(Integer, default=1)


class WorkOrderStep(Base):
    """A stay of the order in one state, with that step's deadline (P2)."""

    __tablename__ = "work_order_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    state: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The profile key the deadline comes from (``work_order.rectify``), or a ledger's new date.
    due_rule: Mapped[str | None] = mapped_column(String(40), default=None)
    # Computed across a year with no official holiday schedule (P2).
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Seconds past the deadline when the step was completed (statistics of the Supervision issue).
    overdue_seconds: Mapped[int] = mapped_column(Integer, default=0)


class WorkOrderEvent(Base):
    """One thing that happened to the order: its timeline is the list of these."""

    __tablename__ = "work_order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    # The capacity in which the actor acted (office, window, leader, upper_office, system).
    party: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    from_state: Mapped[str | None] = mapped_column(String(32), default=None)
    to_state: Mapped[str | None] = mapped_column(String(32), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class WorkOrderAttachment(Base):
    """Evidence: a photo, a recording, a scanned form (type and size checked on upload)."""

    __tablename__ = "work_order_attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("work_order_events.id"), default=None)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
