"""E1 in a real browser: Debian's Chromium driven by Playwright against the running app with
the text review pages mounted. Skipped when Chromium or Playwright is missing, except in CI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from haochaping.app import create_app
from haochaping.config import get_settings
from haochaping.db import Database
from tests import browser_support
from tests.api_clients import Official, add_official

# Skips this module when Playwright or Chromium is missing (tests/browser_support.py).
from tests.browser_support import Browser, Page, expect, serving
from tests.factories import T0, make_catalog
from tests.textreview.conftest import rated, review_of
from tests.textreview.test_api import mount

NOW = T0 + timedelta(hours=1)
PHONE = "13812345678"

# The shared Chromium of this module (tests/browser_support.py).
browser = browser_support.browser


@pytest.fixture
def server(committed_db: Database) -> Iterator[tuple[str, Official, list[int]]]:
    get_settings.cache_clear()
    with committed_db.transaction() as session:
        make_catalog(session)
        first = rated(
            session, "BR-1", 1, labels=["attitude.1", "attitude.3"], text=f"态度差，电话{PHONE}"
        )
        second = rated(session, "BR-2", 2, labels=["attitude.1"], text="排队太久")
        ids = [review_of(session, first).id, review_of(session, second).id]
    official = add_official(committed_db, "sup_browser", "supervisor:450224", now=NOW)
    app = mount(create_app(db=committed_db, clock=lambda: NOW, tick_interval=0))
    with serving(app) as base:
        yield base, official, ids


@pytest.fixture
def page(browser: Browser, server: tuple[str, Official, list[int]]) -> Iterator[Page]:
    base, official, _ = server
    context = browser.new_context(locale="zh-CN")
    context.add_cookies([{"name": "hcp_session", "value": official.token, "url": base}])
    yield context.new_page()
    context.close()


def test_E1_review_in_the_browser_redact_then_approve(
    server: tuple[str, Official, list[int]], page: Page
) -> None:
    """E1: the supervisor opens a pending review, finds the phone number already masked in
    the suggestion, drops a label, submits, and is back on the list with a notice; then
    approves the other one as written. No CSP violation on the way."""
    base, _, (first, second) = server
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )

    page.goto(f"{base}/console/texts/")
    expect(page.get_by_role("heading", name="差评文字审核")).to_be_visible()
    expect(page.get_by_role("table")).not_to_contain_text(PHONE)
    page.get_by_role("link", name=f"审核第 {first} 号").click()
    expect(page).to_have_url(f"{base}/console/texts/{first}")
    expect(page.get_by_text(f"态度差，电话{PHONE}")).to_be_visible()  # the original
    text = page.get_by_label("公开的文字")
    expect(text).to_have_value("态度差，电话***********")
    expect(page.get_by_label("不一次性告知")).to_be_checked()
    page.get_by_label("不一次性告知").uncheck()
    text.fill("态度差")
    page.get_by_role("button", name="删改后通过").click()
    expect(page).to_have_url(f"{base}/console/texts/?done=redacted&review={first}")
    expect(page.get_by_role("status")).to_have_text(
        f"第 {first} 号差评文字已删改后通过，按删改后的内容公开。"
    )

    page.goto(f"{base}/console/texts/{second}")
    page.get_by_role("button", name="审核通过").click()
    expect(page.get_by_role("status")).to_contain_text(f"第 {second} 号差评文字已审核通过")
    page.goto(f"{base}/console/texts/{first}")
    expect(page.get_by_role("heading", name="公开的内容")).to_be_visible()
    expect(page.get_by_label("公开的文字")).to_have_count(0)
    assert not violations, violations


def test_E1_refused_redaction_shows_the_error_in_the_browser(
    server: tuple[str, Official, list[int]], page: Page
) -> None:
    """E1: typing new words into the redaction is refused, with the message and the input."""
    base, _, (_, second) = server
    page.goto(f"{base}/console/texts/{second}")
    page.get_by_label("公开的文字").fill("排队太久，服务很好")
    page.get_by_role("button", name="删改后通过").click()
    expect(page.get_by_role("alert")).to_contain_text("不能增加或改写文字")
    expect(page.get_by_label("公开的文字")).to_have_value("排队太久，服务很好")


def test_E1_pages_fit_a_phone_screen(
    server: tuple[str, Official, list[int]], browser: Browser
) -> None:
    """E1 pages on a 375-pixel phone: nothing wider than the screen."""
    base, official, (first, _) = server
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 700})
    try:
        context.add_cookies([{"name": "hcp_session", "value": official.token, "url": base}])
        page = context.new_page()
        for path in ("/console/texts/", f"/console/texts/{first}"):
            page.goto(f"{base}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    finally:
        context.close()
