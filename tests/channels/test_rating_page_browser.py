"""The unified evaluation page in a real browser: Debian's Chromium driven by Playwright against
the running app, on a phone-sized screen. Labels change with the level (B4), a bad review
without a reason is refused (B6), the confirmation, the duplicate refused (C1) with the
follow-up (C6), the elder mode (适老化, screenshot kept as a test artefact), the keyboard, and
the whole flow without JavaScript. Skipped when Chromium or Playwright is missing, except in CI
(CI=true), where it fails."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from haochaping.app import create_app
from haochaping.config import get_settings
from haochaping.db import Database
from tests import browser_support

# Skips this module when Playwright or Chromium is missing (tests/browser_support.py).
from tests.browser_support import Browser, Page, expect, serving
from tests.channels.test_rating_page import (
    B6_MESSAGE,
    NOW,
    PHONE_UA,
    World,
    build_world,
    settings_env,
    stored,
)

browser = browser_support.browser
__all__ = ["browser", "settings_env"]

PHONE = {"width": 375, "height": 740}
ARTIFACTS = Path(os.environ.get("HCP_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))


@pytest.fixture
def served(committed_db: Database, settings_env: None) -> Iterator[tuple[str, World]]:
    get_settings.cache_clear()
    world = build_world(committed_db)
    app = create_app(db=committed_db, clock=lambda: NOW, tick_interval=0)
    with serving(app) as base:
        yield base, world


def _page(browser: Browser, *, javascript: bool = True) -> Iterator[Page]:
    context = browser.new_context(
        locale="zh-CN",
        viewport=PHONE,
        is_mobile=True,
        user_agent=PHONE_UA,
        java_script_enabled=javascript,
    )
    yield context.new_page()
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    yield from _page(browser)


@pytest.fixture
def phone_without_js(browser: Browser) -> Iterator[Page]:
    yield from _page(browser, javascript=False)


def _fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (page.url, width)


def _level(page: Page, name: str) -> None:
    page.get_by_label(name, exact=True).check()


def test_labels_change_with_the_level_and_a_bad_review_needs_a_reason(
    served: tuple[str, World], phone: Page
) -> None:
    server, world = served
    phone.goto(server + world.paths["P-1"])
    expect(phone.get_by_role("heading", level=1)).to_have_text("请您对本次服务进行评价")
    expect(phone.get_by_text("工作人员S1（工号 S1）")).to_be_visible()
    rude = phone.get_by_label("工作人员服务态度生硬")
    expect(rude).to_be_hidden()
    _fits(phone)

    _level(phone, "非常满意")
    expect(rude).to_be_hidden()
    _level(phone, "不满意")
    expect(rude).to_be_visible()
    expect(phone.get_by_role("group", name="服务环境")).to_be_visible()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "rating-page-bad-review-labels.png"), full_page=True)
    _level(phone, "满意")
    expect(rude).to_be_hidden()

    # B6: 非常不满意 without label or text is refused on the page, the choice kept.
    _level(phone, "非常不满意")
    phone.get_by_role("button", name="提交评价").click()
    alert = phone.locator("#form-error")
    expect(alert).to_have_text(B6_MESSAGE)
    expect(alert).to_be_focused()
    expect(phone.get_by_label("非常不满意", exact=True)).to_be_checked()
    assert not stored(world.db, world.occasions["P-1"])

    expect(rude).to_be_visible()
    rude.check()
    phone.get_by_label("意见和建议").fill("说话很冲")
    phone.get_by_role("button", name="提交评价").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("评价已提交，感谢您的评价！")
    expect(phone.locator("#rated-level")).to_have_text("非常不满意")
    _fits(phone)
    (evaluation,) = stored(world.db, world.occasions["P-1"])
    assert evaluation.label_codes == ["attitude.3"] and evaluation.text == "说话很冲"
    assert evaluation.channel == 2  # a phone's browser, no flag on the link

    # C1: the link again says it was rated; C6: the follow-up once.
    phone.goto(server + world.paths["P-1"])
    expect(phone.get_by_role("heading", level=1)).to_have_text("该办件此环节已评价")
    phone.get_by_label("补充意见").fill("后来窗口负责人打电话道歉了")
    phone.get_by_role("button", name="提交追加评价").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("追加评价已提交，感谢您的反馈！")
    expect(phone.get_by_text("后来窗口负责人打电话道歉了")).to_be_visible()
    expect(phone.get_by_role("button", name="提交追加评价")).to_have_count(0)


def test_labels_of_each_level_from_the_profile_catalogue(
    served: tuple[str, World], phone: Page
) -> None:
    server, world = served
    phone.goto(server + world.paths["P-LVL"] + "?via=qr")
    wait, praise = phone.get_by_label("等候时间略长"), phone.get_by_label("热情周到")
    rude = phone.get_by_label("工作人员服务态度生硬")
    _level(phone, "基本满意")
    expect(wait).to_be_visible()
    expect(praise).to_be_hidden()
    expect(rude).to_be_hidden()
    wait.check()
    # A label ticked under another level is left out once that level is no longer chosen.
    _level(phone, "非常满意")
    expect(praise).to_be_visible()
    expect(wait).to_be_hidden()
    phone.get_by_role("button", name="提交评价").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("评价已提交，感谢您的评价！")
    (evaluation,) = stored(world.db, world.occasions["P-LVL"])
    assert evaluation.level == 5 and evaluation.label_codes == [] and evaluation.channel == 3


def test_a_second_rating_from_another_tab_is_refused(
    served: tuple[str, World], browser: Browser
) -> None:
    server, world = served
    context = browser.new_context(locale="zh-CN", viewport=PHONE, is_mobile=True)
    first, second = context.new_page(), context.new_page()
    for tab in (first, second):
        tab.goto(server + world.paths["P-2"])
    _level(first, "满意")
    first.get_by_role("button", name="提交评价").click()
    expect(first.get_by_role("heading", level=1)).to_have_text("评价已提交，感谢您的评价！")
    _level(second, "非常不满意")
    second.get_by_label("意见和建议").fill("重复提交")
    second.get_by_role("button", name="提交评价").click()
    expect(second.get_by_role("heading", level=1)).to_have_text("该办件此环节已评价")
    expect(second.get_by_role("alert")).to_contain_text("不能重复评价")
    expect(second.locator("#rated-level")).to_have_text("满意")
    context.close()
    (evaluation,) = stored(world.db, world.occasions["P-2"])
    assert evaluation.level == 4


def test_elder_mode_is_large_remembered_and_works_with_the_keyboard(
    served: tuple[str, World], phone: Page
) -> None:
    server, world = served
    phone.goto(server + world.paths["P-3"])
    normal = phone.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    phone.get_by_role("link", name="切换到大字关怀版").click()
    expect(phone.locator("html")).to_have_class("elder")
    big = phone.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert big >= 22 > normal
    # Remembered: a fresh load, and another link, open in elder mode.
    phone.goto(server + world.paths["P-4"])
    expect(phone.locator("html")).to_have_class("elder")
    option = phone.locator("label.level-5").bounding_box()
    assert option is not None and option["height"] >= 64
    button = phone.get_by_role("button", name="提交评价").bounding_box()
    assert button is not None and button["height"] >= 64
    _fits(phone)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "rating-page-elder-mode.png"
    phone.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    # Keyboard only: skip link, mode switch, then the levels; arrows choose, Tab moves on.
    phone.keyboard.press("Tab")
    expect(phone.get_by_role("link", name="跳到主要内容")).to_be_focused()
    phone.keyboard.press("Tab")
    expect(phone.get_by_role("link", name="切换到标准版")).to_be_focused()
    phone.keyboard.press("Tab")
    expect(phone.get_by_label("非常满意", exact=True)).to_be_focused()
    phone.keyboard.press("ArrowDown")
    expect(phone.get_by_label("满意", exact=True)).to_be_checked()
    phone.keyboard.press("Tab")
    expect(phone.get_by_label("意见和建议")).to_be_focused()
    phone.keyboard.type("老人办事很方便")
    phone.keyboard.press("Tab")
    expect(phone.get_by_role("button", name="提交评价")).to_be_focused()
    phone.keyboard.press("Enter")
    expect(phone.get_by_role("heading", level=1)).to_have_text("评价已提交，感谢您的评价！")
    expect(phone.locator("html")).to_have_class("elder")
    phone.screenshot(path=str(ARTIFACTS / "rating-page-elder-mode-done.png"), full_page=True)

    # And off again, remembered too.
    phone.get_by_role("link", name="切换到标准版").click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("评价已提交，感谢您的评价！")
    phone.goto(server + world.paths["P-5"])
    expect(phone.locator("html")).not_to_have_class("elder")


def test_rating_without_javascript(served: tuple[str, World], phone_without_js: Page) -> None:
    server, world = served
    page = phone_without_js
    page.goto(server + world.paths["P-6"] + "?via=sms")
    rude = page.get_by_label("工作人员服务态度生硬")
    # The labels still follow the level, by the stylesheet alone.
    expect(rude).to_be_hidden()
    _level(page, "不满意")
    expect(rude).to_be_visible()
    page.get_by_role("button", name="提交评价").click()
    expect(page.get_by_role("alert")).to_have_text(B6_MESSAGE)
    rude.check()
    page.get_by_role("button", name="提交评价").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("评价已提交，感谢您的评价！")
    (evaluation,) = stored(world.db, world.occasions["P-6"])
    assert evaluation.level == 2 and evaluation.label_codes == ["attitude.3"]
    assert evaluation.channel == 7
    # Elder mode without JavaScript: a plain link.
    page.get_by_role("link", name="切换到大字关怀版").click()
    expect(page.locator("html")).to_have_class("elder")
    expect(page.get_by_role("heading", level=1)).to_have_text("评价已提交，感谢您的评价！")
