"""Issue 3 in a real browser: Debian's Chromium driven by Playwright against the running app.

Skipped when Chromium or Playwright is missing, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from haochaping.accounts import service as accounts
from haochaping.app import create_app
from haochaping.config import get_settings
from haochaping.db import Database
from tests import browser_support

# Skips this module when Playwright or Chromium is missing (tests/browser_support.py).
from tests.browser_support import Browser, Page, expect, serving
from tests.factories import T0, make_catalog

INITIAL = "Initial-pass-2026"
NEW = "Changed-pass-2026"

# The shared Chromium of this module (tests/browser_support.py).
browser = browser_support.browser


@pytest.fixture
def server(committed_db: Database) -> Iterator[str]:
    """The real application, with Secure cookies (the default), served over plain HTTP on
    127.0.0.1: Chromium treats that origin as secure and keeps them."""
    get_settings.cache_clear()
    with committed_db.transaction() as session:
        make_catalog(session)
        user, _ = accounts.create_user(
            session,
            username="zhangsan",
            display_name="张三",
            password=INITIAL,
            now=T0,
            actor="cli:test",
        )
        accounts.grant_role(
            session, user=user, role="supervisor", scope_code="450224", now=T0, actor="cli:test"
        )
        accounts.grant_role(
            session, user=user, role="org_manager", scope_code="O1", now=T0, actor="cli:test"
        )
    assert get_settings().cookie_secure
    app = create_app(db=committed_db, tick_interval=0)
    with serving(app) as base:
        yield base


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN")
    yield context.new_page()
    context.close()


def _log_in(page: Page, base: str, password: str) -> None:
    page.goto(f"{base}/console/login")
    page.get_by_label("用户名").fill("zhangsan")
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录").click()


def test_login_forced_password_change_and_home(server: str, page: Page) -> None:
    page.goto(f"{server}/console/")
    expect(page).to_have_url(f"{server}/console/login")
    expect(page.get_by_role("heading", name="工作人员登录")).to_be_visible()

    _log_in(page, server, "Wrong-pass-2026")
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误")

    _log_in(page, server, INITIAL)
    expect(page).to_have_url(f"{server}/console/password")
    expect(page.get_by_text("您正在使用初始密码")).to_be_visible()
    cookies = {c["name"]: c for c in page.context.cookies()}
    session_cookie = cookies["hcp_session"]
    assert session_cookie["secure"] and session_cookie["httpOnly"]
    assert session_cookie["sameSite"] == "Lax"

    # The home page is out of reach until the password is changed.
    page.goto(f"{server}/console/")
    expect(page).to_have_url(f"{server}/console/password")

    page.get_by_label("原密码").fill(INITIAL)
    page.get_by_label("新密码", exact=True).fill("short1")
    page.get_by_label("确认新密码").fill("short1")
    page.get_by_role("button", name="保存新密码").click()
    expect(page.get_by_role("alert")).to_have_text("密码长度不能少于10位")

    page.get_by_label("原密码").fill(INITIAL)
    page.get_by_label("新密码", exact=True).fill(NEW)
    page.get_by_label("确认新密码").fill(NEW)
    page.get_by_role("button", name="保存新密码").click()
    expect(page).to_have_url(f"{server}/console/?changed=1")
    expect(page.get_by_role("heading", name="您好，张三")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("密码已修改")
    roles = page.get_by_role("table")
    expect(roles).to_contain_text("政务服务管理办公室")
    expect(roles).to_contain_text("融安县")
    expect(roles).to_contain_text("机构管理员")
    expect(roles).to_contain_text("融安县公安局")

    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(f"{server}/console/login?bye=1")
    expect(page.get_by_role("status")).to_have_text("您已安全退出")
    page.goto(f"{server}/console/")
    expect(page).to_have_url(f"{server}/console/login")

    _log_in(page, server, NEW)
    expect(page).to_have_url(f"{server}/console/")


def test_mobile_viewport_and_lockout_message(server: str, browser: Browser) -> None:
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 700})
    try:
        page = context.new_page()
        for _ in range(5):
            _log_in(page, server, "Wrong-pass-2026")
        expect(page.get_by_role("alert")).to_have_text(
            "账号因多次登录失败已暂时锁定，请15分钟后再试"
        )
        # Nothing wider than the phone's screen.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375
    finally:
        context.close()
