"""Issue 3: the console pages through HTTP: login, CSRF, forced password change, lockout."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from haochaping.accounts import service as accounts
from haochaping.accounts.models import LoginSession, User
from haochaping.app import create_app
from haochaping.audit.models import AuditEntry
from haochaping.config import get_settings
from haochaping.console.auth import CurrentUser
from haochaping.db import Database
from tests.accounts.account_helpers import ACTOR, GOOD
from tests.factories import T0, make_catalog

NEW = "Brand-new-2026"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(committed_db: Database, clock: Clock) -> Iterator[TestClient]:
    get_settings.cache_clear()
    with committed_db.transaction() as session:
        make_catalog(session)
        user, _ = accounts.create_user(
            session, username="zhangsan", display_name="张三", password=GOOD, now=T0, actor=ACTOR
        )
        accounts.grant_role(
            session, user=user, role="supervisor", scope_code="450224", now=T0, actor=ACTOR
        )
        accounts.grant_role(
            session, user=user, role="window_staff", scope_code="S1", now=T0, actor=ACTOR
        )
    app = create_app(db=committed_db, clock=clock, tick_interval=0)
    # Secure cookies travel over HTTPS only: the test client speaks "https".
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as c:
        yield c


def _hidden_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def _login(client: TestClient, password: str = GOOD, username: str = "zhangsan") -> httpx.Response:
    page = client.get("/console/login")
    assert page.status_code == 200
    token = _hidden_token(page.text)
    response: httpx.Response = client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token},
    )
    return response


def _change_password(client: TestClient, old: str = GOOD, new: str = NEW) -> httpx.Response:
    page = client.get("/console/password")
    assert page.status_code == 200
    response: httpx.Response = client.post(
        "/console/password",
        data={
            "old_password": old,
            "new_password": new,
            "confirm_password": new,
            "csrf_token": _hidden_token(page.text),
        },
    )
    return response


def test_pages_need_a_login(client: TestClient) -> None:
    for path in ("/console/", "/console/password"):
        response = client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/console/login"


def test_login_page_is_accessible_chinese_and_safe(client: TestClient) -> None:
    page = client.get("/console/login")
    assert '<html lang="zh-CN">' in page.text
    assert '<label for="username">用户名</label>' in page.text
    assert '<label for="password">密码</label>' in page.text
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("hcp_csrf=") and "HttpOnly" in cookie and "Secure" in cookie
    assert "SameSite=strict" in cookie
    css = client.get("/console/static/console.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


def test_login_forces_the_password_change_then_shows_home(client: TestClient) -> None:
    response = _login(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/console/password"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("hcp_session=")
    assert "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    # Every other page sends the user to the password form.
    home = client.get("/console/")
    assert home.status_code == 303 and home.headers["location"] == "/console/password"
    form = client.get("/console/password")
    assert "您正在使用初始密码" in form.text

    changed = _change_password(client)
    assert changed.status_code == 303
    home = client.get(changed.headers["location"])
    assert home.status_code == 200
    assert "您好，张三" in home.text and "密码已修改" in home.text
    assert "政务服务管理办公室" in home.text and "融安县" in home.text
    assert "窗口工作人员" in home.text and "工作人员S1" in home.text
    assert "即将开放" in home.text


def test_wrong_password_and_weak_new_password_show_chinese_errors(client: TestClient) -> None:
    wrong = _login(client, "Wrong-pass-2026")
    assert wrong.status_code == 401
    assert "用户名或密码错误" in wrong.text
    unknown = _login(client, GOOD, username="nobody")
    assert "用户名或密码错误" in unknown.text
    _login(client)
    weak = _change_password(client, new="short1")
    assert weak.status_code == 422
    assert "密码长度不能少于10位" in weak.text
    page = client.get("/console/password")
    mismatch = client.post(
        "/console/password",
        data={
            "old_password": GOOD,
            "new_password": NEW,
            "confirm_password": NEW + "x",
            "csrf_token": _hidden_token(page.text),
        },
    )
    assert "两次输入的新密码不一致" in mismatch.text


def test_lockout_through_the_page(client: TestClient, committed_db: Database) -> None:
    for _ in range(4):
        assert _login(client, "Wrong-pass-2026").status_code == 401
    locked = _login(client, "Wrong-pass-2026")
    assert locked.status_code == 403
    assert "账号因多次登录失败已暂时锁定，请15分钟后再试" in locked.text
    still = _login(client, GOOD)
    assert "暂时锁定" in still.text
    with committed_db.transaction() as s:
        user = s.scalars(select(User).where(User.username == "zhangsan")).one()
        assert user.failed_logins == 5 and user.locked_until is not None
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))
    assert actions.count("login_failed") == 6 and actions.count("account_locked") == 1


def test_post_without_or_with_wrong_csrf_token_is_refused(client: TestClient) -> None:
    client.get("/console/login")  # sets the double-submit cookie
    for data in (
        {"username": "zhangsan", "password": GOOD},
        {"username": "zhangsan", "password": GOOD, "csrf_token": "forged-token-value-123456"},
    ):
        refused = client.post("/console/login", data=data)
        assert refused.status_code == 403
        assert "页面已过期，请刷新后重试" in refused.text
        assert "set-cookie" not in refused.headers or "hcp_session" not in refused.headers.get(
            "set-cookie", ""
        )
    _login(client)
    _change_password(client)
    for data in ({}, {"csrf_token": "forged"}):
        refused = client.post("/console/logout", data=data)
        assert refused.status_code == 403 and "页面已过期" in refused.text
        payload = {"old_password": NEW, "new_password": "Other-pass-2026"}
        payload["confirm_password"] = payload["new_password"]
        refused = client.post("/console/password", data={**payload, **data})
        assert refused.status_code == 403
    assert client.get("/console/").status_code == 200  # still logged in


def test_logout_ends_the_session(client: TestClient, committed_db: Database) -> None:
    _login(client)
    _change_password(client)
    home = client.get("/console/")
    out = client.post("/console/logout", data={"csrf_token": _hidden_token(home.text)})
    assert out.status_code == 303 and out.headers["location"] == "/console/login?bye=1"
    assert "hcp_session=" in out.headers["set-cookie"]
    assert "您已安全退出" in client.get("/console/login?bye=1").text
    assert client.get("/console/").status_code == 303
    with committed_db.transaction() as s:
        assert s.scalars(select(LoginSession)).all() == []


def test_idle_session_sends_back_to_login(client: TestClient, clock: Clock) -> None:
    _login(client)
    _change_password(client)
    assert client.get("/console/").status_code == 200
    clock.now = T0 + timedelta(hours=2, minutes=1)
    response = client.get("/console/")
    assert response.status_code == 303 and response.headers["location"] == "/console/login"


def test_current_user_as_json_dependency(client: TestClient) -> None:
    """Outside the console's pages, ``current_user`` refuses with the usual JSON error."""
    app = client.app
    assert isinstance(app, FastAPI)

    @app.get("/api/v1/_whoami_test")
    def whoami(who: CurrentUser) -> dict[str, str]:
        return {"username": who[0].username}

    refused = client.get("/api/v1/_whoami_test")
    assert refused.status_code == 401 and refused.json()["code"] == "login_required"
    _login(client)
    must_change = client.get("/api/v1/_whoami_test")
    assert must_change.status_code == 403
    assert must_change.json()["code"] == "password_change_required"
    _change_password(client)
    assert client.get("/api/v1/_whoami_test").json() == {"username": "zhangsan"}


def test_already_logged_in_user_skips_the_login_form(client: TestClient) -> None:
    _login(client)
    response = client.get("/console/login")
    assert response.status_code == 303 and response.headers["location"] == "/console/"
