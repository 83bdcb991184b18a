"""D2 (ZZ 监督查评) in a real browser: Debian's Chromium driven by Playwright against the
running app. Skipped when Chromium or Playwright is missing, except in CI."""

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
from tests.callbacks.conftest import PHONE, rated
from tests.factories import T0, make_catalog

NOW = T0 + timedelta(days=1)
MASKED = "138****8000"

browser = browser_support.browser


@pytest.fixture
def server(committed_db: Database) -> Iterator[tuple[str, Official]]:
    get_settings.cache_clear()
    with committed_db.transaction() as session:
        make_catalog(session)
        for n in range(3):
            rated(session, f"BR-CB-{n}")
    official = add_official(committed_db, "sup_browser", "supervisor:450224", now=NOW)
    app = create_app(db=committed_db, clock=lambda: NOW, tick_interval=0)
    with serving(app) as base:
        yield base, official


@pytest.fixture
def page(browser: Browser, server: tuple[str, Official]) -> Iterator[Page]:
    base, official = server
    context = browser.new_context(locale="zh-CN")
    context.add_cookies([{"name": "hcp_session", "value": official.token, "url": base}])
    yield context.new_page()
    context.close()


def test_D2_draw_a_sample_reveal_a_phone_and_record_an_outcome_in_the_browser(
    server: tuple[str, Official], page: Page
) -> None:
    """D2, C9: from the console home to a drawn sample; phones masked until one is revealed;
    a confirmed callback is recorded; then the summary shows it. No CSP violation."""
    base, _ = server
    violations: list[str] = []
    page.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    page.goto(f"{base}/console/")
    page.get_by_role("link", name="监督查评").click()
    expect(page.get_by_role("heading", name="监督查评", exact=True)).to_be_visible()
    expect(page.get_by_label("行政区划代码（含下级）")).to_have_value("450224")
    page.get_by_label("抽取数量（1–500）").fill("0")
    page.get_by_role("button", name="随机抽取").click()
    expect(page.get_by_role("alert")).to_have_text("抽取数量应在 1 到 500 之间")
    page.get_by_label("抽取数量（1–500）").fill("2")
    page.get_by_label("说明（可选）").fill("十一月回访")
    page.get_by_role("button", name="随机抽取").click()
    expect(page.get_by_role("status")).to_contain_text("号抽查样本，请逐条回访并登记结果")
    expect(page.get_by_text("3 条评价，申请抽取 2 条，实际抽取 2 条")).to_be_visible()
    assert PHONE not in page.content()
    expect(page.get_by_text(MASKED)).to_have_count(2)

    page.get_by_role("button", name="查看第 1 条的完整电话").click()
    expect(page.get_by_text(PHONE, exact=True)).to_be_visible()
    expect(page.get_by_text(MASKED)).to_have_count(1)

    page.get_by_label("第 1 条回访结果").select_option("confirmed")
    page.get_by_label("第 1 条评价人现表示的满意程度（确认属实时可选）").select_option("4")
    page.get_by_label("第 1 条备注（可选）").fill("本人确认")
    page.get_by_role("button", name="登记第 1 条").click()
    expect(page.get_by_role("status")).to_have_text("已登记回访结果。")
    expect(page.get_by_role("heading", name="第 1 条：评价属实（评价人确认）")).to_be_visible()
    # The reveal lasted one page: the phone is masked again.
    assert PHONE not in page.content()

    page.get_by_label("第 2 条回访结果").select_option("denied")
    page.get_by_role("button", name="登记第 2 条").click()
    page.goto(f"{base}/console/callbacks/summary")
    expect(page.get_by_role("table", name="按工作人员")).to_contain_text("50.0%")
    expect(page.get_by_role("heading", name="评价人否认作出的评价（共 1 条）")).to_be_visible()
    assert not violations, violations


def test_D2_pages_fit_a_phone_screen(server: tuple[str, Official], browser: Browser) -> None:
    base, official = server
    context = browser.new_context(locale="zh-CN", viewport={"width": 375, "height": 700})
    try:
        context.add_cookies([{"name": "hcp_session", "value": official.token, "url": base}])
        page = context.new_page()
        for path in ("/console/callbacks/", "/console/callbacks/summary"):
            page.goto(f"{base}{path}")
            assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
        page.goto(f"{base}/console/callbacks/")
        page.get_by_label("抽取数量（1–500）").fill("2")
        page.get_by_role("button", name="随机抽取").click()
        expect(page.get_by_role("status")).to_contain_text("号抽查样本")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, page.url
    finally:
        context.close()
