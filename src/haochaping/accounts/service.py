"""Officials' accounts: creation, roles bound to a scope, login with lockout, console sessions.

Every function flushes and leaves the commit to its caller (a request, a CLI command). A refused
login still changes the account (failure counter, lock) and writes the audit log: the caller
commits before showing the refusal. Every security event goes to the audit log; a password or a
session token never does.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from haochaping.accounts.models import ROLE_LABELS, ROLE_SCOPE, LoginSession, Role, RoleGrant, User
from haochaping.accounts.passwords import (
    burn_verification,
    check_password_strength,
    generate_initial_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from haochaping.audit.service import record
from haochaping.catalog.models import Organization, Region, Staff
from haochaping.errors import Conflict, DomainError, InvalidInput, NotFound

MAX_FAILURES = 5
LOCK_DURATION = timedelta(minutes=15)
# The console cookie carrying the session token (read by the console and by the API rules).
SESSION_COOKIE = "hcp_session"
SESSION_LIFETIME = timedelta(hours=12)
IDLE_TIMEOUT = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")

LOGIN_FAILED_MESSAGE = "用户名或密码错误"
LOCKED_MESSAGE = (
    f"账号因多次登录失败已暂时锁定，请{int(LOCK_DURATION.total_seconds() // 60)}分钟后再试"
)


class LoginFailed(DomainError):
    status_code = 401

    def __init__(self) -> None:
        super().__init__("login_failed", LOGIN_FAILED_MESSAGE)


class AccountLocked(DomainError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("account_locked", LOCKED_MESSAGE)


class AccountDisabled(DomainError):
    status_code = 403

    def __init__(self) -> None:
        super().__init__("account_disabled", "账号已停用，请联系系统管理员")


# --------------------------------------------------------------------------- accounts


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str,
    password: str | None = None,
    now: datetime,
    actor: str,
) -> tuple[User, str]:
    """A new account with an initial password (generated unless given) to change at first
    login. Returns the user and the initial password, which is shown once and stored nowhere."""
    username = username.strip()
    display_name = display_name.strip()
    if not USERNAME_RE.match(username):
        raise InvalidInput(
            "invalid_username",
            "用户名须为3至64位小写字母、数字或“._-”，并以字母或数字开头",
        )
    if not display_name or len(display_name) > 100 or "\x00" in display_name:
        raise InvalidInput("invalid_display_name", "姓名不能为空，且不能超过100个字符")
    if find_user(session, username) is not None:
        raise Conflict("username_taken", f"用户名“{username}”已被使用")
    initial = password if password is not None else generate_initial_password()
    check_password_strength(initial, username)
    user = User(
        username=username,
        display_name=display_name,
        password_hash=hash_password(initial),
        must_change_password=True,
        disabled=False,
        failed_logins=0,
        created_at=now,
    )
    session.add(user)
    session.flush()
    record(
        session,
        now=now,
        actor=actor,
        action="user_created",
        target=_target(user),
        details={"display_name": display_name},
    )
    return user, initial


def find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username.strip())).one_or_none()


def get_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise NotFound("user_not_found", f"未找到用户“{username}”")
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def is_locked(user: User, now: datetime) -> bool:
    return user.locked_until is not None and user.locked_until > now


def disable_user(session: Session, *, user: User, now: datetime, actor: str, ip: str = "") -> None:
    """Disable the account and end its sessions at once."""
    if user.disabled:
        return
    user.disabled = True
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    session.flush()
    record(session, now=now, actor=actor, action="user_disabled", target=_target(user), ip=ip)


# --------------------------------------------------------------------------- roles


@dataclass(frozen=True)
class GrantView:
    """A grant as people read it: ``supervisor:450224`` / 政务服务管理办公室 / 融安县."""

    role: str
    role_label: str
    scope_code: str | None
    scope_name: str

    @property
    def spec(self) -> str:
        return self.role if self.scope_code is None else f"{self.role}:{self.scope_code}"


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip())
    except ValueError:
        known = "、".join(r.value for r in Role)
        raise InvalidInput("unknown_role", f"未知角色“{value}”，可选：{known}") from None


def parse_grant_spec(spec: str) -> tuple[Role, str | None]:
    """``ROLE:SCOPE`` (``supervisor:450224``, ``org_manager:O1``) or ``admin``."""
    role_text, sep, scope = spec.partition(":")
    return parse_role(role_text), (scope.strip() or None) if sep else None


def grant_role(
    session: Session,
    *,
    user: User,
    role: Role | str,
    scope_code: str | None,
    now: datetime,
    actor: str,
    ip: str = "",
) -> RoleGrant:
    """Bind a role to a scope: a region code (supervisor, auditor, pii_viewer), an organisation
    code (org_manager), a staff number (window_staff), nothing (admin)."""
    role = parse_role(role) if isinstance(role, str) else role
    region_code, org_id, staff_id = _resolve_scope(session, role, scope_code)
    if _find_grant(session, user.id, role, region_code, org_id, staff_id) is not None:
        raise Conflict("role_already_granted", "该用户已拥有此角色（相同范围）")
    grant = RoleGrant(
        user_id=user.id,
        role=role.value,
        region_code=region_code,
        org_id=org_id,
        staff_id=staff_id,
        created_at=now,
    )
    session.add(grant)
    session.flush()
    record(
        session,
        now=now,
        actor=actor,
        action="role_granted",
        target=_target(user),
        details={"role": role.value, "scope": scope_code},
        ip=ip,
    )
    return grant


def revoke_role(
    session: Session,
    *,
    user: User,
    role: Role | str,
    scope_code: str | None,
    now: datetime,
    actor: str,
    ip: str = "",
) -> None:
    role = parse_role(role) if isinstance(role, str) else role
    region_code, org_id, staff_id = _resolve_scope(session, role, scope_code)
    grant = _find_grant(session, user.id, role, region_code, org_id, staff_id)
    if grant is None:
        raise NotFound("role_not_granted", "该用户没有此角色（相同范围）")
    session.delete(grant)
    session.flush()
    record(
        session,
        now=now,
        actor=actor,
        action="role_revoked",
        target=_target(user),
        details={"role": role.value, "scope": scope_code},
        ip=ip,
    )


def grants_of(session: Session, user_id: int) -> list[RoleGrant]:
    query = select(RoleGrant).where(RoleGrant.user_id == user_id).order_by(RoleGrant.id)
    return list(session.scalars(query))


def describe_grant(session: Session, grant: RoleGrant) -> GrantView:
    role = Role(grant.role)
    label = ROLE_LABELS[role]
    if grant.region_code is not None:
        region = session.get(Region, grant.region_code)
        name = region.name if region else grant.region_code
        return GrantView(role.value, label, grant.region_code, f"{name}（含下辖区域）")
    if grant.org_id is not None:
        org = session.get(Organization, grant.org_id)
        code = org.code if org else str(grant.org_id)
        return GrantView(role.value, label, code, org.name if org else code)
    if grant.staff_id is not None:
        staff = session.get(Staff, grant.staff_id)
        if staff is None:
            return GrantView(role.value, label, str(grant.staff_id), str(grant.staff_id))
        org = session.get(Organization, staff.org_id)
        where = f"，{org.name}" if org else ""
        return GrantView(role.value, label, staff.code, f"{staff.name}（工号 {staff.code}{where}）")
    return GrantView(role.value, label, None, "全系统")


def describe_grants(session: Session, user_id: int) -> list[GrantView]:
    return [describe_grant(session, g) for g in grants_of(session, user_id)]


def _resolve_scope(
    session: Session, role: Role, scope_code: str | None
) -> tuple[str | None, int | None, int | None]:
    column = ROLE_SCOPE[role]
    label = ROLE_LABELS[role]
    scope_code = scope_code.strip() if scope_code else None
    if column is None:
        if scope_code:
            raise InvalidInput("scope_not_allowed", f"“{label}”角色作用于全系统，不能指定范围")
        return None, None, None
    if not scope_code:
        kinds = {"region_code": "行政区划代码", "org_id": "机构代码", "staff_id": "人员工号"}
        raise InvalidInput("scope_required", f"“{label}”角色须指定范围（{kinds[column]}）")
    if column == "region_code":
        region = session.get(Region, scope_code)
        if region is None:
            raise _unknown_scope("行政区划", scope_code)
        return region.code, None, None
    if column == "org_id":
        org = session.scalars(
            select(Organization).where(Organization.code == scope_code)
        ).one_or_none()
        if org is None:
            raise _unknown_scope("机构", scope_code)
        return None, org.id, None
    staff = session.scalars(select(Staff).where(Staff.code == scope_code)).one_or_none()
    if staff is None:
        raise _unknown_scope("人员", scope_code)
    return None, None, staff.id


def _unknown_scope(kind: str, code: str) -> DomainError:
    return InvalidInput("unknown_scope", f"未找到{kind}“{code}”，无法授予该范围的角色")


def _find_grant(
    session: Session,
    user_id: int,
    role: Role,
    region_code: str | None,
    org_id: int | None,
    staff_id: int | None,
) -> RoleGrant | None:
    # NULLs are distinct in the unique constraint, so compare in Python.
    for grant in grants_of(session, user_id):
        if (grant.role, grant.region_code, grant.org_id, grant.staff_id) == (
            role.value,
            region_code,
            org_id,
            staff_id,
        ):
            return grant
    return None


# --------------------------------------------------------------------------- login


def authenticate(
    session: Session, *, username: str, password: str, now: datetime, ip: str = ""
) -> User:
    """The user whose password this is, or a refusal: ``login_failed`` (unknown user or wrong
    password, alike), ``account_locked`` (5 failures in a row lock for 15 minutes),
    ``account_disabled``. The caller commits in both cases."""
    user = find_user(session, username) if username.strip() else None
    if user is None:
        burn_verification(password)
        # Only a well-formed name is recorded: people type passwords into the wrong field.
        tried = username.strip() if USERNAME_RE.match(username.strip()) else "?"
        _login_failed(session, now, f"user:{tried}", ip, reason="unknown_user")
        raise LoginFailed()
    if is_locked(user, now):
        _login_failed(session, now, _target(user), ip, reason="locked")
        raise AccountLocked()
    if user.locked_until is not None:  # the lock has run out: a fresh start
        user.locked_until = None
        user.failed_logins = 0
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        _login_failed(
            session, now, _target(user), ip, reason="wrong_password", failures=user.failed_logins
        )
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until = now + LOCK_DURATION
            session.flush()
            record(
                session,
                now=now,
                actor="system",
                action="account_locked",
                target=_target(user),
                details={"until": user.locked_until.isoformat(), "failures": user.failed_logins},
                ip=ip,
            )
            raise AccountLocked()
        session.flush()
        raise LoginFailed()
    if user.disabled:
        _login_failed(session, now, _target(user), ip, reason="disabled")
        raise AccountDisabled()
    user.failed_logins = 0
    user.last_login_at = now
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    session.flush()
    record(session, now=now, actor=_actor(user), action="login", target=_target(user), ip=ip)
    return user


def _login_failed(session: Session, now: datetime, target: str, ip: str, **details: Any) -> None:
    record(
        session,
        now=now,
        actor="anonymous",
        action="login_failed",
        target=target,
        details=details,
        ip=ip,
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(
    session: Session, *, user: User, now: datetime, ip: str = ""
) -> tuple[str, LoginSession]:
    """A new console session; the token goes into the cookie, only its hash is stored."""
    token = secrets.token_urlsafe(32)
    login = LoginSession(
        token_hash=_token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        last_seen_at=now,
        expires_at=now + SESSION_LIFETIME,
        client_ip=ip[:64],
    )
    session.add(login)
    session.flush()
    return token, login


def resolve_session(
    session: Session, *, token: str, now: datetime
) -> tuple[User, LoginSession] | None:
    """The user and session behind a cookie token, or None when it is unknown, past its
    12 hours, idle for 2 hours, or its user is disabled (such a session is deleted)."""
    if not token or len(token) > 200:
        return None
    login = session.scalars(
        select(LoginSession).where(LoginSession.token_hash == _token_hash(token))
    ).one_or_none()
    if login is None:
        return None
    user = session.get(User, login.user_id)
    if (
        user is None
        or user.disabled
        or login.expires_at <= now
        or login.last_seen_at + IDLE_TIMEOUT <= now
    ):
        session.delete(login)
        session.flush()
        return None
    if now - login.last_seen_at >= TOUCH_EVERY:
        login.last_seen_at = now
        session.flush()
    return user, login


def end_session(session: Session, *, login: LoginSession, now: datetime, ip: str = "") -> None:
    user = session.get(User, login.user_id)
    session.delete(login)
    session.flush()
    if user is not None:
        record(session, now=now, actor=_actor(user), action="logout", target=_target(user), ip=ip)


def change_password(
    session: Session,
    *,
    user: User,
    old: str,
    new: str,
    now: datetime,
    ip: str = "",
    keep: LoginSession | None = None,
) -> None:
    """Change the user's password: the old one must match, the new one pass the policy and
    differ from it. Every other session of the user ends (``keep`` stays)."""
    if not verify_password(user.password_hash, old):
        raise InvalidInput("wrong_password", "原密码不正确")
    check_password_strength(new, user.username)
    if new == old:
        raise InvalidInput("password_unchanged", "新密码不能与原密码相同")
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.password_changed_at = now
    others = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep is not None:
        others = others.where(LoginSession.id != keep.id)
    session.execute(others)
    session.flush()
    record(
        session, now=now, actor=_actor(user), action="password_changed", target=_target(user), ip=ip
    )


def _actor(user: User) -> str:
    return f"user:{user.username}"


def _target(user: User) -> str:
    return f"user:{user.username}"


# --------------------------------------------------------------------------- demo


# One account per role, on the demo catalogue (haochaping.demo.catalogue): username, name,
# grants. The window staff account takes the name of the staff member it is bound to.
DEMO_ACCOUNTS: tuple[tuple[str, str, tuple[tuple[Role, str | None], ...]], ...] = (
    ("admin", "系统管理员", ((Role.admin, None),)),
    (
        "zgb-gx",
        "自治区政务服务管理办公室",
        ((Role.supervisor, "450000"), (Role.pii_viewer, "450000")),
    ),
    ("zgb-rongan", "融安县政务服务管理办公室", ((Role.supervisor, "450224"),)),
    ("ld-rongan", "融安县“好差评”工作分管领导", ((Role.leader, "450224"),)),
    ("zgb-liuzhou", "柳州市政务服务监督管理办公室", ((Role.supervisor, "450200"),)),
    ("jg-rongan-ga", "融安县公安局机构管理员", ((Role.org_manager, "450224-GA"),)),
    ("ck-rongan-ga-01", "", ((Role.window_staff, "450224-GA-01"),)),
    ("sj-gx", "自治区审计员", ((Role.auditor, "450000"),)),
)


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    grants: tuple[GrantView, ...]
    # None when the account already existed and was left as it was.
    initial_password: str | None


def create_demo_accounts(session: Session, *, now: datetime, actor: str) -> list[DemoAccount]:
    """The demo accounts, each with a fresh initial password; existing ones are left alone."""
    made: list[DemoAccount] = []
    for username, name, specs in DEMO_ACCOUNTS:
        existing = find_user(session, username)
        if existing is not None:
            views = tuple(describe_grants(session, existing.id))
            made.append(DemoAccount(username, existing.display_name, views, None))
            continue
        if not name:
            staff_code = specs[0][1] or ""
            staff = session.scalars(select(Staff).where(Staff.code == staff_code)).one_or_none()
            name = staff.name if staff is not None else "窗口工作人员"
        user, initial = create_user(
            session, username=username, display_name=name, now=now, actor=actor
        )
        for role, scope in specs:
            grant_role(session, user=user, role=role, scope_code=scope, now=now, actor=actor)
        views = tuple(describe_grants(session, user.id))
        made.append(DemoAccount(username, name, views, initial))
    return made
