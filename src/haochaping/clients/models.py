"""Business systems that push cases and evaluations: credentials, keys, scopes, used nonces."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime
from haochaping.pii.cipher import EncryptedText


class BusinessClient(Base):
    """One business system (业务办理系统), identified by its code."""

    __tablename__ = "business_clients"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ClientKey(Base):
    """A signing key of a client. Rotation adds a key and gives the old one an end of validity,
    so both sign valid requests during the overlap."""

    __tablename__ = "client_keys"
    __table_args__ = (UniqueConstraint("client_id", "kid", name="uq_client_keys_client_kid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("business_clients.id"), index=True)
    kid: Mapped[str] = mapped_column(String(32))
    # The shared secret, encrypted at rest with the SM4 keyring (it must be read to verify).
    secret: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ClientScope(Base):
    """An organisation or a region subtree a client serves (exactly one of the two)."""

    __tablename__ = "client_scopes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("business_clients.id"), index=True)
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), default=None)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), default=None)


class UsedNonce(Base):
    """Nonces seen within the timestamp tolerance: a second use is a replay."""

    __tablename__ = "client_nonces"
    __table_args__ = (UniqueConstraint("client_id", "nonce", name="uq_client_nonces_nonce"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("business_clients.id"))
    nonce: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
