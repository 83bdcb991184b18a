"""监督查评 (D2, ZZ): samples of recent evaluations drawn for callbacks, their items and events.

A sample stores what it was drawn from (filters, period, the random seed) so that the draw can
be explained later. An item points at one evaluation; the rater's phone is never copied here:
it stays encrypted on the case (C9) and is read from there when an item is shown or revealed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime


class SampleStatus(StrEnum):
    # Items still waiting for an outcome: their evaluations are not drawn again.
    open = "open"
    # Every item has an outcome (corrections remain possible, with a reason).
    closed = "closed"


class Outcome(StrEnum):
    """What the callback found (D2). ``denied`` is a fraud signal (C10, G4), not a revocation."""

    confirmed = "confirmed"
    denied = "denied"
    unreachable = "unreachable"


class CallbackSample(Base):
    """One draw of evaluations for callbacks by a supervision office (D2, ZZ)."""

    __tablename__ = "callback_samples"
    __table_args__ = (Index("ix_callback_samples_region_created", "region_code", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The region subtree drawn from; the sample belongs to that region's office.
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    period_from: Mapped[datetime] = mapped_column(UTCDateTime)
    period_to: Mapped[datetime] = mapped_column(UTCDateTime)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), default=None)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    channel: Mapped[int | None] = mapped_column(Integer, default=None)
    requested_size: Mapped[int] = mapped_column(Integer)
    # Evaluations that met every condition when the sample was drawn, and how many were drawn.
    eligible: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    # The seed of the pseudo-random ranks (hexadecimal) and how they were used (see service).
    seed: Mapped[str] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default=SampleStatus.open.value)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class CallbackItem(Base):
    """One sampled evaluation to call back. Where it was rated is copied from the case and the
    evaluation (neither changes once rated), so that summaries never join the evaluations."""

    __tablename__ = "callback_items"
    __table_args__ = (
        # The same evaluation is never in two open samples at once (D2).
        Index(
            "uq_callback_items_open_evaluation",
            "evaluation_id",
            unique=True,
            postgresql_where=text("in_open_sample"),
            sqlite_where=text("in_open_sample"),
        ),
        Index("ix_callback_items_region_outcome", "region_code", "outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("callback_samples.id"), index=True)
    # 1..size: the order of the draw.
    position: Mapped[int] = mapped_column(Integer)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), index=True)
    in_open_sample: Mapped[bool] = mapped_column(Boolean, default=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"), default=None)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    channel: Mapped[int | None] = mapped_column(Integer, default=None)
    level: Mapped[int] = mapped_column(Integer)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    # Calls made, answered or not.
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Confirmed, but the rater now states another level (1..5): recorded, the rating unchanged.
    stated_level: Mapped[int | None] = mapped_column(Integer, default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    outcome_by: Mapped[str | None] = mapped_column(String(100), default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class CallbackEvent(Base):
    """One thing that happened to a sample or an item (draw, call, outcome, correction,
    reveal): the history of every outcome, never overwritten."""

    __tablename__ = "callback_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("callback_samples.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(
        ForeignKey("callback_items.id"), default=None, index=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    from_outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    to_outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
