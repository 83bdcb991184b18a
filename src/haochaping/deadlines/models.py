"""Deadlines are rows, not sleeping threads: each is stored with its due time when created."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime


class DeadlineStatus(StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"


class Deadline(Base):
    __tablename__ = "deadlines"
    __table_args__ = (
        UniqueConstraint("kind", "subject_id", name="uq_deadlines_kind_subject"),
        Index("ix_deadlines_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Computed across a year with no official holiday schedule (P2): weekends only.
    estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default=DeadlineStatus.pending.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
