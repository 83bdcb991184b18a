"""The SMS outbox (texts to raters waiting for the gateway), the replies that came in, and the
phones that opted out (C5, D1, D4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime
from haochaping.pii.cipher import EncryptedText


class OutboxStatus(StrEnum):
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"


class OutboxMessage(Base):
    __tablename__ = "sms_outbox"
    __table_args__ = (
        Index("ix_sms_outbox_status_created", "status", "created_at"),
        Index("ix_sms_outbox_phone_index_purpose", "phone_index", "purpose"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # C9: stored encrypted like every rater's phone.
    phone: Mapped[str] = mapped_column(EncryptedText)
    # HMAC-SM3 blind index of the phone: a reply is matched to the reminder it answers by it.
    phone_index: Mapped[str | None] = mapped_column(String(64), default=None)
    text: Mapped[str] = mapped_column(Text)
    # What the text is for (workorder_feedback, rating_reminder, sms_reply...) and about what.
    purpose: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(64), default="")
    # The occasion a rating reminder or a link is about (a reply rates it, D4).
    occasion_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.queued.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A queued text is not tried before this (backoff after a gateway failure).
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The gateway's id of the message: its delivery report names it.
    gateway_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class OptOut(Base):
    """A phone that replied "TD": no more reminders. Kept as the keyed blind index only (C9)."""

    __tablename__ = "sms_opt_outs"

    phone_index: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboundMessage(Base):
    """A text a rater sent to the gateway, kept whatever it said (nothing a citizen sends is
    lost), with what became of it."""

    __tablename__ = "sms_inbound"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The gateway's message id: a retried callback is answered once.
    gateway_id: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(EncryptedText)
    phone_index: Mapped[str] = mapped_column(String(64), index=True)
    text: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # rated, reason_required, late, already_rated, opted_out, help, no_occasion...
    outcome: Mapped[str] = mapped_column(String(40))
    occasion_id: Mapped[int | None] = mapped_column(Integer, default=None)
    evaluation_id: Mapped[int | None] = mapped_column(Integer, default=None)
    reply_id: Mapped[int | None] = mapped_column(Integer, default=None)
