"""综合点评 (D2, D3): suggestions and complaints not tied to a case, and their timelines."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime
from haochaping.pii.cipher import EncryptedText


class RemarkSource(StrEnum):
    """Where a remark came in (D2 ZZ 二(二)3, D3 GD Art.13)."""

    web = "web"
    email = "email"
    hotline = "hotline"
    # Typed in by staff from a suggestion box (意见箱) or a suggestion book (意见簿).
    box = "box"
    book = "book"


class RemarkStatus(StrEnum):
    received = "received"
    routed = "routed"
    answered = "answered"
    published = "published"
    closed = "closed"


class Remark(Base):
    """One 综合点评. The contact (C9) is encrypted at rest and never published."""

    __tablename__ = "remarks"
    __table_args__ = (
        UniqueConstraint("client_id", "external_id", name="uq_remarks_client_external"),
        Index("ix_remarks_status_received", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The receipt number a citizen keeps (ZP20261110-123456).
    remark_no: Mapped[str] = mapped_column(String(32), unique=True)
    # Keyed hash (HMAC-SM3) of the private query code given with the receipt.
    query_code_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(16))
    topic: Mapped[str | None] = mapped_column(String(40), default=None)
    status: Mapped[str] = mapped_column(String(16), default=RemarkStatus.received.value)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    org_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id"), default=None, index=True
    )
    text: Mapped[str] = mapped_column(Text)
    contact_name: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    contact_phone: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    contact_email: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    profile_name: Mapped[str] = mapped_column(String(50))
    profile_version: Mapped[str] = mapped_column(String(80))
    # The business system (12345 platform) and its own number: idempotent intake.
    client_id: Mapped[int | None] = mapped_column(Integer, default=None)
    external_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # SHA-256 of an imported e-mail's Message-ID (dedup without keeping the header).
    message_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    entered_by: Mapped[str] = mapped_column(String(100))
    answer_text: Mapped[str | None] = mapped_column(Text, default=None)
    answered_by: Mapped[str | None] = mapped_column(String(100), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # G1: the remark's text as the office approved it for publication (redacted or not).
    published_text: Mapped[str | None] = mapped_column(Text, default=None)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The answer deadline (profile ``remarks.answer_within``); the sweeper marks it overdue.
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    overdue: Mapped[bool] = mapped_column(Boolean, default=False)


class RemarkEvent(Base):
    """One step of a remark: its timeline and its audit trail."""

    __tablename__ = "remark_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    remark_id: Mapped[int] = mapped_column(ForeignKey("remarks.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(24))
    from_status: Mapped[str | None] = mapped_column(String(16), default=None)
    to_status: Mapped[str | None] = mapped_column(String(16), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
