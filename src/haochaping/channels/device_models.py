"""Counter rating devices (评价器, D1, D3, D4) and the signals that wake them.

A device is bound to one window. It is paired once with a one-time code and then carries a
long-lived credential in a cookie; only hashes of the code and of the credential are stored.
A signal says "the service of this occasion at this window just ended": the device of the
window shows the rating screen for it. Signals are rows, not messages in a broker, so that
every worker of the application can deliver them (each device's event stream polls them).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime


class SignalStatus(StrEnum):
    """What the staff side may learn of a signal (C10: never the level)."""

    waiting = "waiting"
    shown = "shown"
    rated = "rated"
    not_rated = "not_rated"


class CounterDevice(Base):
    __tablename__ = "counter_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    # SHA-256 of the one-time pairing code, until it is used (then None).
    pairing_hash: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    pairing_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # SHA-256 of the secret in the device's cookie, once paired.
    token_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    paired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class DeviceSignal(Base):
    __tablename__ = "device_signals"
    __table_args__ = (Index("ix_device_signals_window_id_id", "window_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("windows.id"))
    occasion_id: Mapped[int] = mapped_column(ForeignKey("occasions.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=SignalStatus.waiting.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A signal not shown by then is never shown (a stale one would show the next citizen the
    # previous one's case); once shown, the screen's own limit.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sender: Mapped[str] = mapped_column(String(100), default="")
    device_id: Mapped[int | None] = mapped_column(ForeignKey("counter_devices.id"), default=None)
    shown_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
