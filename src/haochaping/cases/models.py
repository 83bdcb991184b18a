"""Cases (办件), bundles (一件事, C2) and the occasions on which a case may be rated (C1-C4)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime
from haochaping.pii.cipher import EncryptedText


class ApplicantType(StrEnum):
    """A1: natural person, legal person, other organisation."""

    person = "person"
    legal_person = "legal_person"
    organization = "organization"


class Stage(StrEnum):
    accept = "accept"
    approve = "approve"
    deliver = "deliver"
    complete = "complete"
    overall = "overall"


class OccasionStatus(StrEnum):
    open = "open"
    rated = "rated"
    defaulted = "defaulted"
    # Closed in silence under a profile that gives no default.
    expired = "expired"


class Bundle(Base):
    """一件事 / 套餐式服务 (C2): cases of several organisations rated together."""

    __tablename__ = "bundles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bundle_no: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    profile_name: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Case(Base):
    """One handling of a service item, registered and updated by a business system."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_no: Mapped[str] = mapped_column(String(64), unique=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("service_items.id"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    # The organisation's business line when the case was registered (A4).
    line_id: Mapped[int | None] = mapped_column(ForeignKey("business_lines.id"), default=None)
    hall_id: Mapped[int | None] = mapped_column(ForeignKey("halls.id"), default=None)
    window_id: Mapped[int | None] = mapped_column(ForeignKey("windows.id"), default=None)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None, index=True)
    applicant_type: Mapped[str] = mapped_column(String(20))
    # C9: the rater's name, ID number and phone are confidential; the database holds SM4-GCM
    # ciphertext only, Python sees clear values. Look up by the blind indexes, never by value.
    applicant_name: Mapped[str] = mapped_column(EncryptedText)
    applicant_id_type: Mapped[str | None] = mapped_column(String(20), default=None)
    applicant_id_no: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    applicant_phone: Mapped[str | None] = mapped_column(EncryptedText, default=None)
    # HMAC-SM3 blind indexes of the phone and the ID number (pii.cipher.blind_index).
    applicant_phone_index: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    applicant_id_index: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    handling: Mapped[str] = mapped_column(String(16))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    bundle_id: Mapped[int | None] = mapped_column(
        ForeignKey("bundles.id"), default=None, index=True
    )
    # C4: number of transactions of the same item in one window visit, rated once.
    batch_size: Mapped[int] = mapped_column(Integer, default=1)
    # Profile of the case's region when it was registered (P1).
    profile_name: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Occasion(Base):
    """One occasion on which a case (or a bundle) may be rated, exactly once (C1)."""

    __tablename__ = "occasions"
    __table_args__ = (
        UniqueConstraint("case_id", "stage", name="uq_occasions_case_stage"),
        UniqueConstraint("bundle_id", "stage", name="uq_occasions_bundle_stage"),
        {"postgresql_with": {"fillfactor": 70}},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    bundle_id: Mapped[int | None] = mapped_column(ForeignKey("bundles.id"), default=None)
    stage: Mapped[str] = mapped_column(String(16))
    # B5: window handling rates staff and item; online and terminal handling the item only.
    rates_staff: Mapped[bool] = mapped_column(Boolean)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    # Handled at a window or terminal: late ratings fall under the supplementary window (C8).
    on_site: Mapped[bool] = mapped_column(Boolean)
    # C2: a bundle's stage scores are recorded apart; only its overall score is credited.
    credited: Mapped[bool] = mapped_column(Boolean, default=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    rate_until: Mapped[datetime] = mapped_column(UTCDateTime)
    default_due: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # The working-day calendar had to guess a year without an official schedule (P2).
    window_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Not indexed: every rating updates it, and without an index on it the update is HOT on
    # PostgreSQL (fillfactor 70 leaves room on the page; migration 0017).
    status: Mapped[str] = mapped_column(String(16), default=OccasionStatus.open.value)
    profile_name: Mapped[str] = mapped_column(String(50))
