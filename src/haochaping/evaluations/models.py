"""Evaluations (评价), follow-ups (追加评价), score credits and idempotency records."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime


class Channel(IntEnum):
    """D5: channel codes used in national data."""

    pc = 1
    mobile = 2
    qr = 3
    hall_device = 4
    hall_terminal = 5
    phone = 6
    sms = 7


CHANNEL_NAMES = {
    Channel.pc: "PC端",
    Channel.mobile: "移动端",
    Channel.qr: "二维码",
    Channel.hall_device: "大厅评价器/平板",
    Channel.hall_terminal: "大厅其他终端",
    Channel.phone: "电话",
    Channel.sms: "短信",
}


class Evaluation(Base):
    """Exactly one per occasion (C1): the unique constraint on ``occasion_id`` enforces it."""

    __tablename__ = "evaluations"
    __table_args__ = (
        Index("ix_evaluations_rated_at", "rated_at"),
        # The bad reviews of a period, newest first (hot words, G3), without reading the rest.
        Index(
            "ix_evaluations_bad_rated_at",
            "rated_at",
            postgresql_where=text("is_bad"),
            sqlite_where=text("is_bad"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occasion_id: Mapped[int] = mapped_column(ForeignKey("occasions.id"), unique=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("bundles.id"), default=None)
    level: Mapped[int] = mapped_column(Integer)
    # Score of the level under the profile in force when the evaluation was made (B1).
    score: Mapped[float] = mapped_column(Float)
    is_bad: Mapped[bool] = mapped_column(Boolean)
    label_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    text: Mapped[str | None] = mapped_column(Text, default=None)
    # D5 code; None for a default rating, which no channel produced.
    channel: Mapped[int | None] = mapped_column(Integer, default=None)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # A late on-site evaluation, made after the handling day (C8).
    supplementary: Mapped[bool] = mapped_column(Boolean, default=False)
    profile_name: Mapped[str] = mapped_column(String(50))
    profile_version: Mapped[str] = mapped_column(String(80))
    labels_version: Mapped[str] = mapped_column(String(80))
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # 申诉撤销 upheld (F1-F5): out of every score and ranking, still in the record.
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_reason: Mapped[str | None] = mapped_column(Text, default=None)


class FollowUp(Base):
    """One follow-up per evaluation (C6)."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), unique=True)
    text: Mapped[str | None] = mapped_column(Text, default=None)
    label_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    channel: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Credit(Base):
    """What one evaluation counts for (B2, B5, C2, C4): one row per organisation it is credited
    to. ``shared`` marks an evaluation credited to several organisations (a bundle's overall
    score), which the scores must count once per unit, not once per row."""

    __tablename__ = "evaluation_credits"
    __table_args__ = (Index("ix_evaluation_credits_rated_at", "rated_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluations.id"), index=True)
    # Copied from the case (or the bundle's cases) the evaluation rates, whose foreign keys
    # reference the same catalogue rows; no key of their own, so a rating does not check them
    # five times over (migration 0017). Cases and catalogue rows are never deleted.
    staff_id: Mapped[int | None] = mapped_column(Integer, default=None, index=True)
    org_id: Mapped[int] = mapped_column(Integer, index=True)
    line_id: Mapped[int | None] = mapped_column(Integer, default=None)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    item_id: Mapped[int] = mapped_column(Integer)
    channel: Mapped[int | None] = mapped_column(Integer, default=None)
    # Transactions this rating stands for (C4 batch), normally 1.
    weight: Mapped[int] = mapped_column(Integer, default=1)
    score: Mapped[float] = mapped_column(Float)
    level: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean)
    # False for item-only evaluations under a profile that counts only staff ratings for
    # organisations, lines and regions (GX Art.4).
    counts_for_units: Mapped[bool] = mapped_column(Boolean)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    rated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The evaluation was revoked by an upheld appeal: it counts for nothing (B2).
    revoked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class IdempotencyRecord(Base):
    """The first answer to a request sent with an ``Idempotency-Key``."""

    __tablename__ = "idempotency_records"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
