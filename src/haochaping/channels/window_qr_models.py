"""One-time codes of the static window QR code (ZZ, D2): a rater proves their phone before the
page lists their own cases at that window. Only hashes and blind indexes are stored (C9)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime


class WindowQrChallenge(Base):
    """One code sent to one phone for one window; after verification, the short session of
    the list page (its secret is only known to the rater's browser, stored here hashed)."""

    __tablename__ = "window_qr_challenges"
    __table_args__ = (Index("ix_window_qr_challenges_phone_created", "phone_index", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The random handle the pages carry (never the sequential id: no guessing of others').
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"), index=True)
    phone_index: Mapped[str] = mapped_column(String(64))
    # 138****8000: what the page may show; the clear phone is never stored here.
    phone_masked: Mapped[str] = mapped_column(String(20))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    session_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    session_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
