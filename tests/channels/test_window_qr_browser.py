"""The window's static QR code in a real headless Chromium (ZZ, D2): the placard's address →
phone number → the one-time code (read from the SMS outbox, as the phone would receive it) →
the rater's own cases at that window → the rating page → the rating stored with D5 code 3."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from haochaping.app import create_app
from haochaping.channels import window_qr
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.evaluations.models import Channel, Evaluation
from tests import browser_support

# Skips this module when Playwright or Chromium is missing (tests/browser_support.py).
from tests.browser_support import Browser, Page, expect, serving
from tests.channels.test_window_qr import NOW, PHONE, World, build_world, last_code

browser = browser_support.browser
__all__ = ["browser"]

PHONE_UA = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Mobile Safari/537.36"


@pytest.fixture
def served(committed_db: Database) -> Iterator[tuple[str, World]]:
    # Secure cookies (the default): Chromium treats http://127.0.0.1 as a secure origin.
    get_settings.cache_clear()
    world = build_world(committed_db)
    app = create_app(db=committed_db, clock=lambda: NOW, tick_interval=0)
    with serving(app) as base:
        yield base, world


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 375, "height": 740}, is_mobile=True, user_agent=PHONE_UA
    )
    yield context.new_page()
    context.close()


def test_scan_phone_code_list_and_rate(served: tuple[str, World], phone: Page) -> None:
    base, world = served
    phone.goto(base + window_qr.window_path(world.w1))
    expect(phone.get_by_role("heading", level=1)).to_contain_text("W1号窗口")
    phone.get_by_label("手机号码").fill(PHONE)
    phone.get_by_role("button", name="获取验证码").click()
    expect(phone.locator("#masked-phone")).to_have_text("138****8000")
    # A wrong code first: the page says so and keeps the form.
    phone.get_by_label("验证码").fill("999999" if last_code(world.db) != "999999" else "888888")
    phone.get_by_role("button", name="确认").click()
    expect(phone.get_by_role("alert")).to_contain_text("验证码不正确")
    phone.get_by_label("验证码").fill(last_code(world.db))
    phone.get_by_role("button", name="确认").click()
    cases = phone.locator("#my-cases")
    expect(cases).to_contain_text("Q-OPEN")
    expect(cases).to_contain_text("已评价")
    expect(cases).not_to_contain_text("Q-OTHER")
    expect(cases).not_to_contain_text("Q-W2")
    expect(phone.locator("#masked-phone")).to_have_text("138****8000")
    assert PHONE not in phone.content()
    # Elder mode (适老化) from the list page, remembered, and still on the list.
    phone.get_by_role("link", name="切换到大字关怀版").click()
    expect(phone.locator("html")).to_have_class("elder")
    expect(phone.locator("#my-cases")).to_contain_text("Q-OPEN")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    phone.get_by_role("link", name="去评价").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("请您对本次服务进行评价")
    expect(phone.locator("main")).to_contain_text("Q-OPEN")
    phone.locator("label.level-5").click()
    phone.get_by_role("button", name="提交评价").click()
    expect(phone.locator("main")).to_contain_text("感谢")
    with world.db.transaction() as session:
        channels = session.scalars(select(Evaluation.channel).order_by(Evaluation.id)).all()
    assert channels[-1] == int(Channel.qr)
    # Back on the list, the case is now shown as rated.
    phone.goto(base + window_qr.window_path(world.w1))
    expect(phone.locator("#my-cases")).not_to_contain_text("去评价")
