"""Officials' accounts, their roles bound to a scope of the catalogue tree, console sessions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haochaping.db import Base, UTCDateTime


class Role(StrEnum):
    """The roles of issue 3. Each grant binds one role to one scope."""

    # 系统管理员: the whole system; no scope.
    admin = "admin"
    # 政务服务管理办公室 (政管办) of a region: that region and everything under it.
    supervisor = "supervisor"
    # 机构管理员: one organisation, its windows in every hall.
    org_manager = "org_manager"
    # 窗口工作人员: only their own evaluations and work orders, never a rater's identity (C10).
    window_staff = "window_staff"
    # 审计员: read-only, within a region (the whole province when bound to it).
    auditor = "auditor"
    # 实名信息查看: the supervision office's separate permission to show personal data in clear
    # (C9), within a region; every use asks for a reason and is recorded in the audit log.
    pii_viewer = "pii_viewer"
    # 分管领导: the leader in charge of 好差评 work in a region, who reviews bad-review reports
    # and appeal requests before they go up (F5; RA Art.7, Art.9).
    leader = "leader"


ROLE_LABELS: dict[Role, str] = {
    Role.admin: "系统管理员",
    Role.supervisor: "政务服务管理办公室",
    Role.org_manager: "机构管理员",
    Role.window_staff: "窗口工作人员",
    Role.auditor: "审计员",
    Role.pii_viewer: "实名信息查看",
    Role.leader: "分管领导",
}

# Which scope column a grant of each role must set (exactly that one; admin none).
ROLE_SCOPE: dict[Role, str | None] = {
    Role.admin: None,
    Role.supervisor: "region_code",
    Role.org_manager: "org_id",
    Role.window_staff: "staff_id",
    Role.auditor: "region_code",
    Role.pii_viewer: "region_code",
    Role.leader: "region_code",
}


class User(Base):
    """An official who logs in to the console."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    # argon2id, from argon2-cffi.
    password_hash: Mapped[str] = mapped_column(String(200))
    # An initial password (set by an administrator) must be changed at first login.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class RoleGrant(Base):
    """One role of a user, bound to its scope (see ``ROLE_SCOPE``)."""

    __tablename__ = "role_grants"
    __table_args__ = (
        UniqueConstraint(
            "user_id", "role", "region_code", "org_id", "staff_id", name="uq_role_grants_scope"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), default=None)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), default=None)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LoginSession(Base):
    """A console session. The cookie carries a random token; only its hash is stored."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Synchroniser token for the forms of this session (CSRF).
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
