"""The audit log (issue 3): one row per auditable act, each carrying the SM3 hash of the previous.

Rows are only ever inserted, never updated or deleted; ``haochaping audit verify`` recomputes the
chain and says where it breaks. See ``haochaping.audit.service`` for the hash's definition.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime


class AuditEntry(Base):
    """Who (``actor``, ``actor_ip``) did what (``action``, ``target``, ``details``) and when."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The position in the chain: 1, 2, 3… without gaps; unique so two writers cannot both
    # chain onto the same predecessor.
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # "user:alice", "client:gx-yth", "cli:root", "system".
    actor: Mapped[str] = mapped_column(String(100), index=True)
    actor_ip: Mapped[str] = mapped_column(String(64), default="")
    # An ``AuditAction`` code: login, role_granted, pii_unmasked…
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    # Canonical JSON (sorted keys, no spaces); never personal data in clear.
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
