"""G1 in a real browser: Debian's Chromium driven by Playwright against the running app with
the public pages mounted, on a phone-sized screen. Skipped when Chromium or Playwright is
missing, except in CI (CI=true), where it fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from haochaping.app import create_app
from haochaping.config import get_settings
from haochaping.db import Database
from tests import browser_support

# Skips this module when Playwright or Chromium is missing (tests/browser_support.py).
from tests.browser_support import Browser, Page, expect, serving
from tests.public.test_public_pages import APPROVED, NOW, build_world, profiles

# The shared Chromium of this module (tests/browser_support.py), and the test profiles.
browser = browser_support.browser
__all__ = ["browser", "profiles"]

PHONE_WIDTH = 375


@pytest.fixture
def server(committed_db: Database, profiles: None) -> Iterator[str]:
    get_settings.cache_clear()
    build_world(committed_db)
    app = create_app(db=committed_db, clock=lambda: NOW, tick_interval=0)
    with serving(app) as base:
        yield base


@pytest.fixture
def phone(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": PHONE_WIDTH, "height": 740}, is_mobile=True
    )
    yield context.new_page()
    context.close()


def _fits(page: Page) -> None:
    """Nothing wider than the phone's screen (wide tables scroll inside their own box)."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, (page.url, width)


def _figure(page: Page, ident: str) -> str:
    text: str = page.locator(f"#{ident} dd").inner_text()
    return text


def test_G1_region_to_city_to_organisation_on_a_phone(server: str, phone: Page) -> None:
    """The month of tests/public/test_public_pages.py, read from the province down."""
    phone.goto(f"{server}/public/regions/450000?period=2026-11")
    expect(phone.get_by_role("heading", level=1)).to_have_text("广西壮族自治区政务服务评价结果")
    assert _figure(phone, "fig-evaluations") == "8"
    assert _figure(phone, "fig-average") == "5.00"
    # No cookie of any kind on a public page.
    assert phone.context.cookies() == []
    _fits(phone)

    phone.get_by_role("table", name="广西壮族自治区下辖地区排名（2026年11月）").get_by_role(
        "link", name="柳州市"
    ).click()
    expect(phone).to_have_url(f"{server}/public/regions/450200?period=2026-11")
    expect(phone.get_by_role("heading", level=1)).to_have_text("柳州市政务服务评价结果")
    ranking = phone.get_by_role("table", name="柳州市下辖地区排名（2026年11月）")
    expect(ranking.get_by_role("row", name="融安县")).to_contain_text("第 2 / 2 名")
    expect(ranking.get_by_role("row", name="融水苗族自治县")).to_contain_text("第 1 / 2 名")
    _fits(phone)

    ranking.get_by_role("link", name="融安县").click()
    expect(phone).to_have_url(f"{server}/public/regions/450224?period=2026-11")
    assert _figure(phone, "fig-evaluations") == "6"
    assert _figure(phone, "fig-average") == "4.00"
    assert _figure(phone, "wo-rectified") == "1"
    expect(phone.get_by_text(APPROVED)).to_be_visible()
    _fits(phone)

    phone.get_by_role("table", name="县级·公安部门（2026年11月）").get_by_role(
        "link", name="融安县公安局"
    ).click()
    expect(phone.get_by_role("heading", level=1)).to_have_text("融安县公安局评价结果")
    assert _figure(phone, "fig-evaluations") == "4"
    assert _figure(phone, "fig-average") == "5.25"
    expect(phone.locator("#org-rank")).to_contain_text("排第")
    _fits(phone)

    # Another period through the form, then back with the link.
    phone.get_by_label("选择统计周期").fill("2026-10")
    phone.get_by_role("button", name="查询").click()
    expect(phone.locator(".period-now")).to_have_text("统计周期：2026年10月")
    assert _figure(phone, "fig-evaluations") == "0"
    phone.get_by_role("link", name="下一期").click()
    expect(phone.locator(".period-now")).to_have_text("统计周期：2026年11月")
    _fits(phone)
