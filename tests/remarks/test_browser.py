"""综合点评 end to end in a real browser (Debian Chromium via Playwright): a citizen submits on
the public page and keeps the receipt; the office routes it and the organisation answers in the
console; the office publishes it and the answer is on the public list (D2, D3, G1, C9)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from haochaping.app import create_app
from haochaping.config import get_settings
from haochaping.db import Database
from tests import browser_support
from tests.api_clients import Official, add_official

# Skips this module when Playwright or Chromium is missing (tests/browser_support.py).
from tests.browser_support import Browser, Page, expect, serving
from tests.factories import make_catalog
from tests.remarks.helpers import EMAIL, NOW, PHONE, ZZ

browser = browser_support.browser


@pytest.fixture
def server(committed_db: Database) -> Iterator[tuple[str, Official, Official]]:
    get_settings.cache_clear()
    with committed_db.transaction() as session:
        make_catalog(session)
    sup = add_official(committed_db, "sup-zz-browser", f"supervisor:{ZZ}", now=NOW)
    org = add_official(committed_db, "org-z1-browser", "org_manager:Z1", now=NOW)
    app = create_app(db=committed_db, clock=lambda: NOW, tick_interval=0)
    with serving(app) as base:
        yield base, sup, org


def _console(browser: Browser, base: str, official: Official) -> Page:
    context = browser.new_context(locale="zh-CN")
    context.add_cookies([{"name": "hcp_session", "value": official.token, "url": base}])
    return context.new_page()


def test_D2_G1_citizen_submits_office_routes_org_answers_and_it_is_published(
    server: tuple[str, Official, Official], browser: Browser
) -> None:
    base, sup, org = server
    violations: list[str] = []
    # The citizen's phone, with JavaScript off: the pages need none.
    citizen_context = browser.new_context(
        locale="zh-CN", viewport={"width": 375, "height": 740}, java_script_enabled=False
    )
    citizen = citizen_context.new_page()
    citizen.goto(f"{base}/public/")
    citizen.get_by_role("link", name="提出意见建议").click()
    expect(citizen.get_by_role("heading", name="提出意见建议")).to_be_visible()
    citizen.get_by_label("涉及地区（必选）").select_option(ZZ)
    citizen.get_by_label("涉及部门（选填）").select_option("Z1")
    citizen.get_by_role("radio", name="建议", exact=True).check()
    citizen.get_by_label("意见建议内容（必填，不超过 2000 字）").fill(
        f"建议办事大厅周六上午开放，方便上班族。我的电话{PHONE}"
    )
    citizen.get_by_label("联系电话").fill(PHONE)
    citizen.get_by_label("电子邮箱").fill(EMAIL)
    citizen.get_by_label(re.compile("我同意")).check()
    citizen.get_by_role("button", name="提交").click()
    expect(citizen.get_by_role("heading", name="提交成功")).to_be_visible()
    remark_no = citizen.locator("#receipt-no").inner_text()
    code = citizen.locator("#receipt-code").inner_text()
    assert remark_no.startswith("ZP") and len(code) == 8

    office = _console(browser, base, sup)
    office.on(
        "console", lambda m: violations.append(m.text) if "Content Security" in m.text else None
    )
    office.goto(f"{base}/console/remarks/")
    office.get_by_role("link", name=remark_no).click()
    expect(office.locator("#remark-status")).to_contain_text("已受理，待分办")
    expect(office.get_by_text("139****5678")).to_be_visible()
    office.get_by_label("承办单位", exact=True).select_option("Z1")
    office.get_by_label(re.compile("^主题")).select_option("efficiency")
    office.get_by_role("button", name="转交").click()
    expect(office.get_by_role("status")).to_contain_text("已分类并转交承办单位")

    answerer = _console(browser, base, org)
    answerer.goto(f"{base}/console/remarks/{remark_no}")
    answerer.get_by_label("答复内容", exact=True).fill(
        "自下月起，政务服务大厅周六上午9:00-12:00开放。"
    )
    answerer.get_by_role("button", name="提交答复").click()
    expect(answerer.get_by_role("status")).to_contain_text("已答复")
    expect(answerer.get_by_role("button", name="公开")).to_have_count(0)

    office.reload()
    publish_text = office.get_by_label("公开的内容", exact=True)
    expect(publish_text).to_have_value("建议办事大厅周六上午开放，方便上班族。我的电话" + "*" * 11)
    office.get_by_role("button", name="公开", exact=True).click()
    expect(office.get_by_role("status")).to_contain_text("已公开")

    citizen.goto(f"{base}/public/remarks")
    item = citizen.locator(f"#remark-{remark_no}")
    expect(item).to_contain_text("周六上午9:00-12:00开放")
    expect(item).to_contain_text("建议办事大厅周六上午开放")
    expect(citizen.locator("main")).not_to_contain_text(PHONE)
    expect(citizen.locator("main")).not_to_contain_text(EMAIL)
    citizen.get_by_role("link", name="查询办理结果").first.click()
    citizen.get_by_label("受理编号").fill(remark_no)
    citizen.get_by_label("查询码").fill(code)
    citizen.get_by_role("button", name="查询").click()
    expect(citizen.locator("#status-name")).to_have_text("已答复并公开")
    expect(citizen.locator("#answer")).to_contain_text("周六上午9:00-12:00开放")
    assert not violations, violations
    for context in (citizen_context, office.context, answerer.context):
        context.close()
