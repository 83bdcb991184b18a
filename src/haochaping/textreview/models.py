"""E1: bad-review labels and text waiting for review before publication."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime


class ReviewStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    # Approved with personal data or abusive words removed from what is published.
    redacted = "redacted"
    # Not reviewed in time, approved by the profile's silence rule (E1, GX Art.8).
    approved_by_silence = "approved_by_silence"
    # Not reviewed in time under a profile where silence does not approve: never published.
    expired = "expired"


class TextReview(Base):
    """One bad review's text and labels under review (E1). The rating is never touched."""

    __tablename__ = "text_reviews"
    __table_args__ = (Index("ix_text_reviews_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), unique=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    status: Mapped[str] = mapped_column(String(24), default=ReviewStatus.pending.value)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    decided_by: Mapped[str | None] = mapped_column(String(100), default=None)
    # What may be published (G1): the text as approved or redacted, and the labels kept.
    published_text: Mapped[str | None] = mapped_column(Text, default=None)
    published_labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    note: Mapped[str | None] = mapped_column(Text, default=None)
