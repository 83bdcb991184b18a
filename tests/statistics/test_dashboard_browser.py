"""Issue 6 in a real browser: the console dashboard of a provincial supervision office, drilled
down region → sub-region → organisation → window → staff → evaluations and work orders, with
the ECharts charts drawn from the bundle the application serves. Debian's Chromium driven by
Playwright; skipped when either is missing, except in CI (CI=true), where it fails."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from haochaping.app import create_app
from haochaping.config import get_settings
from haochaping.db import Database
from tests import browser_support
from tests.api_clients import add_official

# Skips this module when Playwright or Chromium is missing (tests/browser_support.py).
from tests.browser_support import Browser, Page, expect, serving
from tests.factories import T0
from tests.statistics.fixture import build_november

browser = browser_support.browser
__all__ = ["browser"]

CHARTS = ("chart-trend", "chart-levels", "chart-channels", "chart-labels")


@pytest.fixture
def server(committed_db: Database) -> Iterator[tuple[str, str]]:
    get_settings.cache_clear()
    with committed_db.transaction() as session:
        build_november(session)
    office = add_official(committed_db, "zgb-gx", "supervisor:450000", now=T0)
    app = create_app(db=committed_db, clock=lambda: T0, tick_interval=0)
    with serving(app) as base:
        yield base, office.token


@pytest.fixture
def page(browser: Browser, server: tuple[str, str]) -> Iterator[Page]:
    base, token = server
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "hcp_session", "value": token, "url": base}])
    opened = context.new_page()
    errors: list[str] = []
    # No script error, and every resource the pages load is served (the browser's own
    # favicon request aside).
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    yield opened
    context.close()
    assert errors == [], errors


def _charts_drawn(page: Page) -> None:
    for ident in CHARTS:
        chart = page.locator(f"#{ident}")
        expect(chart).to_have_attribute("data-ready", "1")
        assert chart.locator("svg").count() >= 1, ident


def _open(page: Page, section: str, name: str) -> None:
    """Follow the link of ``name`` in the table of the ``section`` dimension."""
    page.locator(f'table[data-section="{section}"]').get_by_role("link", name=name).click()
    page.wait_for_load_state("domcontentloaded")


def test_drill_down_from_the_province_to_a_clerks_evaluations(
    page: Page, server: tuple[str, str]
) -> None:
    base, _ = server
    page.goto(f"{base}/console/stats?period=2026-11")
    expect(page.get_by_role("heading", level=1)).to_contain_text("广西壮族自治区")
    _charts_drawn(page)

    _open(page, "region", "柳州市")
    expect(page.get_by_role("heading", level=1)).to_contain_text("柳州市")
    _open(page, "region", "融安县")
    expect(page.get_by_role("heading", level=1)).to_contain_text("融安县")
    _charts_drawn(page)
    # Hot words of the bad reviews link to the reviews behind them (G3).
    words = page.locator("#words-title").locator("xpath=..")
    expect(words.get_by_role("link", name="材料")).to_be_visible()

    _open(page, "org", "融安县公安局")
    expect(page.get_by_role("heading", level=1)).to_contain_text("融安县公安局")
    _open(page, "window", "W1号窗口")
    expect(page.get_by_role("heading", level=1)).to_contain_text("W1号窗口")
    _open(page, "staff", "工作人员S2")
    expect(page.get_by_role("heading", level=1)).to_contain_text("工作人员S2")
    # The clerk's own evaluations of the month, and the way to their work orders.
    recent = page.get_by_role("table").filter(has_text="办件编号")
    expect(recent).to_contain_text("N-S2-A")
    expect(recent).to_contain_text("窗口工作人员态度生硬")
    # The crumbs lead back up the way the office came down.
    crumbs = page.locator("p.crumbs")
    for name in ("广西壮族自治区", "柳州市", "融安县", "融安县公安局", "W1号窗口"):
        expect(crumbs.get_by_role("link", name=name, exact=True)).to_be_visible()

    page.get_by_role("link", name="本期差评工单").click()
    page.wait_for_load_state("domcontentloaded")
    assert "/console/workorders" in page.url
    expect(page.locator("body")).to_contain_text("N-S2-A")


def test_hot_word_opens_the_reviews_and_the_period_filter_applies(
    page: Page, server: tuple[str, str]
) -> None:
    base, _ = server
    page.goto(f"{base}/console/stats?region=450224&period=2026-11")
    page.locator("#words-title").locator("xpath=..").get_by_role("link", name="材料").click()
    page.wait_for_load_state("domcontentloaded")
    expect(page.locator("body")).to_contain_text("材料反复退回")
    page.goto(f"{base}/console/stats?region=450224&period=2026-11")
    page.get_by_label("统计周期", exact=True).select_option("2026-10")
    page.locator("form.filters").get_by_role("button").first.click()
    page.wait_for_load_state("domcontentloaded")
    assert "period=2026-10" in page.url
    expect(page.get_by_role("heading", level=1)).to_contain_text("2026年10月")
