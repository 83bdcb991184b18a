"""Issue 3: accounts, roles bound to a scope, login with lockout, sessions, password change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haochaping.accounts import service as accounts
from haochaping.accounts.models import LoginSession, Role
from haochaping.accounts.passwords import hash_password, verify_password
from haochaping.errors import DomainError
from tests.accounts.account_helpers import ACTOR, GOOD, audit_actions, audit_entries, new_user
from tests.factories import T0


def _refused(code: str, call: Any, *args: Any, **kwargs: Any) -> DomainError:
    with pytest.raises(DomainError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value
    assert 400 <= info.value.status_code < 500
    return info.value


# --------------------------------------------------------------------------- accounts


def test_create_user_generates_an_initial_password_to_change(session: Session) -> None:
    user, initial = accounts.create_user(
        session, username="lisi", display_name="李四", now=T0, actor=ACTOR
    )
    assert user.must_change_password and not user.disabled and user.failed_logins == 0
    assert user.password_hash.startswith("$argon2id$") and initial not in user.password_hash
    assert verify_password(user.password_hash, initial)
    assert audit_actions(session) == ["user_created"]
    entry = audit_entries(session)[0]
    assert entry.actor == ACTOR and entry.target == "user:lisi"
    assert initial not in entry.details


def test_create_user_refusals(session: Session) -> None:
    new_user(session)
    _refused(
        "username_taken",
        accounts.create_user,
        session,
        username="zhangsan",
        display_name="另一个张三",
        now=T0,
        actor=ACTOR,
    )
    for bad in ("ab", "Zhang", "张三", "-x-y", "a b c", "x" * 65):
        _refused(
            "invalid_username",
            accounts.create_user,
            session,
            username=bad,
            display_name="某人",
            now=T0,
            actor=ACTOR,
        )
    _refused(
        "invalid_display_name",
        accounts.create_user,
        session,
        username="wangwu",
        display_name=" ",
        now=T0,
        actor=ACTOR,
    )
    _refused(
        "weak_password",
        accounts.create_user,
        session,
        username="wangwu",
        display_name="王五",
        password="short1",
        now=T0,
        actor=ACTOR,
    )


# --------------------------------------------------------------------------- roles


def test_grant_roles_on_each_kind_of_scope(session: Session, catalog: dict[str, Any]) -> None:
    user = new_user(session)
    for role, scope in (
        (Role.admin, None),
        (Role.supervisor, "450224"),
        (Role.org_manager, "O1"),
        (Role.window_staff, "S1"),
        (Role.auditor, "450000"),
        (Role.pii_viewer, "450000"),
    ):
        accounts.grant_role(session, user=user, role=role, scope_code=scope, now=T0, actor=ACTOR)
    grants = accounts.grants_of(session, user.id)
    assert [g.role for g in grants] == [
        "admin",
        "supervisor",
        "org_manager",
        "window_staff",
        "auditor",
        "pii_viewer",
    ]
    org_grant = grants[2]
    assert org_grant.org_id == catalog["orgs"]["O1"].id
    assert org_grant.region_code is None and org_grant.staff_id is None
    assert grants[3].staff_id == catalog["staff"]["S1"].id
    views = accounts.describe_grants(session, user.id)
    assert [v.spec for v in views] == [
        "admin",
        "supervisor:450224",
        "org_manager:O1",
        "window_staff:S1",
        "auditor:450000",
        "pii_viewer:450000",
    ]
    assert views[0].role_label == "系统管理员" and views[0].scope_name == "全系统"
    assert views[1].role_label == "政务服务管理办公室" and "融安县" in views[1].scope_name
    assert views[2].scope_name == "融安县公安局"
    assert "工作人员S1" in views[3].scope_name and "融安县公安局" in views[3].scope_name
    assert audit_actions(session).count("role_granted") == 6


def test_grant_validation(session: Session, catalog: dict[str, Any]) -> None:
    user = new_user(session)

    def grant(role: str, scope: str | None) -> None:
        accounts.grant_role(session, user=user, role=role, scope_code=scope, now=T0, actor=ACTOR)

    _refused("unknown_role", grant, "superuser", None)
    _refused("scope_not_allowed", grant, "admin", "450000")
    _refused("scope_required", grant, "supervisor", None)
    _refused("scope_required", grant, "window_staff", "")
    _refused("unknown_scope", grant, "supervisor", "999999")
    _refused("unknown_scope", grant, "org_manager", "450224")  # a region, not an organisation
    _refused("unknown_scope", grant, "window_staff", "O1")
    grant("supervisor", "450224")
    grant("admin", None)
    _refused("role_already_granted", grant, "supervisor", "450224")
    _refused("role_already_granted", grant, "admin", None)
    assert len(accounts.grants_of(session, user.id)) == 2


def test_revoke_role(session: Session, catalog: dict[str, Any]) -> None:
    user = new_user(session)
    accounts.grant_role(
        session, user=user, role="auditor", scope_code="450000", now=T0, actor=ACTOR
    )
    _refused(
        "role_not_granted",
        accounts.revoke_role,
        session,
        user=user,
        role="auditor",
        scope_code="450200",
        now=T0,
        actor=ACTOR,
    )
    accounts.revoke_role(
        session, user=user, role="auditor", scope_code="450000", now=T0, actor=ACTOR
    )
    assert accounts.grants_of(session, user.id) == []
    assert audit_actions(session)[-1] == "role_revoked"


def test_parse_grant_spec() -> None:
    assert accounts.parse_grant_spec("supervisor:450224") == (Role.supervisor, "450224")
    assert accounts.parse_grant_spec("admin") == (Role.admin, None)
    assert accounts.parse_grant_spec("window_staff:450224-GA-01") == (
        Role.window_staff,
        "450224-GA-01",
    )
    with pytest.raises(DomainError):
        accounts.parse_grant_spec("boss:1")


# --------------------------------------------------------------------------- login


def _login(session: Session, password: str, *, at: Any = T0, username: str = "zhangsan") -> Any:
    return accounts.authenticate(
        session, username=username, password=password, now=at, ip="10.0.0.9"
    )


def test_login_succeeds_and_is_audited(session: Session) -> None:
    user = new_user(session)
    assert _login(session, GOOD) is user
    assert user.last_login_at == T0
    entry = audit_entries(session)[-1]
    assert (entry.action, entry.actor, entry.actor_ip) == ("login", "user:zhangsan", "10.0.0.9")


def test_unknown_user_and_wrong_password_look_alike(session: Session) -> None:
    new_user(session)
    unknown = _refused("login_failed", _login, session, GOOD, username="nobody")
    wrong = _refused("login_failed", _login, session, "Wrong-2026-pw")
    assert unknown.message == wrong.message == "用户名或密码错误"
    assert unknown.status_code == wrong.status_code == 401
    assert audit_actions(session)[-2:] == ["login_failed", "login_failed"]
    for entry in audit_entries(session):
        assert GOOD not in entry.details and "Wrong-2026-pw" not in entry.details


def test_five_failures_lock_for_fifteen_minutes(session: Session) -> None:
    user = new_user(session)
    for n in range(1, 5):
        _refused(
            "login_failed", _login, session, f"wrong-{n}-password", at=T0 + timedelta(seconds=n)
        )
        assert user.failed_logins == n and user.locked_until is None
    locked = _refused(
        "account_locked", _login, session, "wrong-5-password", at=T0 + timedelta(seconds=5)
    )
    assert "15分钟" in locked.message
    assert user.locked_until == T0 + timedelta(seconds=5, minutes=15)
    assert "account_locked" in audit_actions(session)
    # Even the right password is refused while locked.
    _refused("account_locked", _login, session, GOOD, at=T0 + timedelta(minutes=14))
    # After the lock: a fresh start, and the right password works and resets the counter.
    assert _login(session, GOOD, at=T0 + timedelta(minutes=16)) is user
    assert user.failed_logins == 0 and user.locked_until is None


def test_after_the_lock_runs_out_failures_count_from_zero(session: Session) -> None:
    user = new_user(session)
    for n in range(5):
        with pytest.raises(DomainError):
            _login(session, f"wrong-{n}-password")
    later = T0 + timedelta(minutes=15, seconds=1)
    _refused("login_failed", _login, session, "still-wrong-1", at=later)
    assert user.failed_logins == 1 and user.locked_until is None


def test_success_resets_the_failure_counter(session: Session) -> None:
    user = new_user(session)
    for n in range(4):
        with pytest.raises(DomainError):
            _login(session, f"wrong-{n}-password")
    _login(session, GOOD)
    assert user.failed_logins == 0
    for n in range(4):
        with pytest.raises(DomainError):
            _login(session, f"wrong-{n}-password")
    assert user.locked_until is None


def test_disabled_user_cannot_log_in_and_loses_sessions(session: Session) -> None:
    user = new_user(session)
    token, _ = accounts.start_session(session, user=user, now=T0)
    accounts.disable_user(session, user=user, now=T0, actor=ACTOR)
    assert accounts.resolve_session(session, token=token, now=T0) is None
    assert session.scalar(select(func.count()).select_from(LoginSession)) == 0
    refused = _refused("account_disabled", _login, session, GOOD)
    assert refused.status_code == 403
    # A wrong password on a disabled account says no more than for anyone else.
    _refused("login_failed", _login, session, "Wrong-2026-pw")
    assert "user_disabled" in audit_actions(session)


def test_an_old_hash_is_upgraded_at_login(session: Session) -> None:
    from argon2 import PasswordHasher

    user = new_user(session)
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(GOOD)
    old = user.password_hash
    _login(session, GOOD)
    assert user.password_hash != old and user.password_hash.startswith("$argon2id$v=19$m=65536")


# --------------------------------------------------------------------------- sessions


def test_session_token_is_stored_hashed_and_resolves(session: Session) -> None:
    user = new_user(session)
    token, login = accounts.start_session(session, user=user, now=T0, ip="10.0.0.9")
    assert login.token_hash != token and len(login.token_hash) == 64
    assert login.csrf_token and login.csrf_token != token
    assert login.expires_at == T0 + timedelta(hours=12)
    found = accounts.resolve_session(session, token=token, now=T0 + timedelta(seconds=30))
    assert found == (user, login)
    assert login.last_seen_at == T0  # touched at most once a minute
    accounts.resolve_session(session, token=token, now=T0 + timedelta(minutes=5))
    assert login.last_seen_at == T0 + timedelta(minutes=5)
    assert accounts.resolve_session(session, token=token + "x", now=T0) is None
    assert accounts.resolve_session(session, token="", now=T0) is None


def test_idle_session_expires_after_two_hours(session: Session) -> None:
    user = new_user(session)
    token, _ = accounts.start_session(session, user=user, now=T0)
    at = T0 + timedelta(hours=1, minutes=59)
    assert accounts.resolve_session(session, token=token, now=at) is not None
    assert accounts.resolve_session(session, token=token, now=at + timedelta(hours=2)) is None
    # Gone for good: even an earlier clock does not bring it back.
    assert accounts.resolve_session(session, token=token, now=at) is None


def test_session_ends_after_twelve_hours_however_active(session: Session) -> None:
    user = new_user(session)
    token, _ = accounts.start_session(session, user=user, now=T0)
    for hours in range(1, 12):
        at = T0 + timedelta(hours=hours)
        assert accounts.resolve_session(session, token=token, now=at) is not None
    assert accounts.resolve_session(session, token=token, now=T0 + timedelta(hours=12)) is None


def test_logout_ends_the_session(session: Session) -> None:
    user = new_user(session)
    token, login = accounts.start_session(session, user=user, now=T0)
    accounts.end_session(session, login=login, now=T0, ip="10.0.0.9")
    assert accounts.resolve_session(session, token=token, now=T0) is None
    assert audit_actions(session)[-1] == "logout"


# --------------------------------------------------------------------------- password change


def test_change_password(session: Session) -> None:
    user = new_user(session)
    token_a, login_a = accounts.start_session(session, user=user, now=T0)
    token_b, _ = accounts.start_session(session, user=user, now=T0)
    _refused(
        "wrong_password",
        accounts.change_password,
        session,
        user=user,
        old="nope",
        new="New-pass-2026",
        now=T0,
    )
    _refused(
        "weak_password", accounts.change_password, session, user=user, old=GOOD, new="short", now=T0
    )
    _refused(
        "password_unchanged",
        accounts.change_password,
        session,
        user=user,
        old=GOOD,
        new=GOOD,
        now=T0,
    )
    assert user.must_change_password
    later = T0 + timedelta(minutes=1)
    accounts.change_password(
        session, user=user, old=GOOD, new="New-pass-2026", now=later, keep=login_a
    )
    assert not user.must_change_password and user.password_changed_at == later
    assert verify_password(user.password_hash, "New-pass-2026")
    assert accounts.resolve_session(session, token=token_a, now=later) is not None
    assert accounts.resolve_session(session, token=token_b, now=later) is None
    assert audit_actions(session)[-1] == "password_changed"
    assert all("New-pass-2026" not in e.details for e in audit_entries(session))


def test_disable_is_idempotent_and_list_users(session: Session) -> None:
    b = new_user(session, "bbb-user")
    a = new_user(session, "aaa-user")
    assert [u.username for u in accounts.list_users(session)] == ["aaa-user", "bbb-user"]
    accounts.disable_user(session, user=a, now=T0, actor=ACTOR)
    accounts.disable_user(session, user=a, now=T0, actor=ACTOR)
    assert a.disabled and not b.disabled
    assert audit_actions(session).count("user_disabled") == 1
    assert not accounts.is_locked(b, T0)
    b.password_hash = hash_password(GOOD)
