"""G1: the public results pages. Figures equal the statistics service's; no personal data
anywhere (C9); only text the review approved (E1); revoked evaluations out (F1-F5); cacheable
answers; refusals as pages in Chinese.

November 2026, 融安县 (450224, profile ``ra_public``: Rong'an's procedure, silence does not
approve a text), every case handled and rated on Tue 2026-11-10 at 10:00:
- S1 (O1 融安县公安局): 非常满意, 满意, and a 非常不满意 revoked after an upheld appeal;
- S2 (O1): 非常不满意 (text approved, rectified and closed), 不满意 (text redacted: phone masked);
- S3 (O2 不动产登记中心): 非常不满意 (text still pending), 不满意 (text expired unreviewed);
融水县 (450225): S5 (O4) 非常满意; 柳州市 (450200) itself: S4 (O3) 基本满意.
Guangxi (450000) and so 柳州市 use ``gx_public``: ranked from one evaluation on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.rules import Public, route_rules
from haochaping.access.scope import Scope
from haochaping.app import create_app
from haochaping.catalog.models import Region
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.policy.loader import clear_cache
from haochaping.protection.ratelimit import (
    RATE_LIMITED_MESSAGE,
    RateLimited,
    api_routes,
    route_rate_limits,
)
from haochaping.public import reading
from haochaping.public.reading import format_score, format_share
from haochaping.statistics import rollup
from haochaping.statistics import service as statistics
from haochaping.statistics.periods import parse_period
from haochaping.statistics.schemas import Dimension, UnitMetrics
from haochaping.textreview import service as texts
from haochaping.textreview.models import TextReview
from haochaping.workorders.models import WorkOrder
from tests.factories import make_catalog
from tests.statistics.fixture import rated
from tests.workorders.helpers import act, beijing, rongan_cast

NOVEMBER = parse_period("2026-11")
# The pages are read in December: November is the last complete month.
NOW = beijing(2026, 12, 3, 10, 0)
DAY = beijing(2026, 11, 10, 11, 0)

APPLICANT = ("张三丰", "13812348000", "450224199001011234")
PHONE = "13977712345"
APPROVED = "窗口人员态度生硬，让我来回跑了三趟"
ORIGINAL_REDACTED = f"办事太慢，有事打我电话{PHONE}"
REDACTED = "办事太慢，有事打我电话" + "*" * len(PHONE)
PENDING = "材料清单前后说法不一致"
EXPIRED = "大厅空调开得太冷"
REVOKED = "误点了非常不满意"
MEASURES = "由窗口负责人李四当面致歉，开展服务礼仪培训"
RESPONSIBLE = "李四"
REPORT = "经调查，窗口人员王小明答复不耐心，情况属实。"

PROFILES = {
    "gx_public": """\
name: gx_public
title: 测试配置：广西，评价一条即参与排名
version: "test-1"
extends: guangxi
supervision:
  ranking_min_evaluations: 1
""",
    "ra_public": """\
name: ra_public
title: 测试配置：融安，逾期未审不视为通过
version: "test-1"
extends: rongan
text_review:
  window: {amount: 15, unit: natural_days}
  silence_means_approved: false
""",
    "ra_quiet": """\
name: ra_quiet
title: 测试配置：融安，不公开差评内容
version: "test-1"
extends: rongan
supervision:
  publish_texts: false
""",
}


@pytest.fixture
def profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test profiles in a private ``HCP_POLICY_DIR``."""
    directory = tmp_path / "policies"
    directory.mkdir()
    for name, text in PROFILES.items():
        (directory / f"{name}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("HCP_POLICY_DIR", str(directory))
    get_settings.cache_clear()
    clear_cache()
    yield
    get_settings.cache_clear()
    clear_cache()


@dataclass(frozen=True)
class World:
    orgs: dict[str, int]
    order_nos: list[str]
    case_nos: list[str]


def _review(session: Session, evaluation_id: int | None) -> TextReview:
    review = session.scalar(select(TextReview).where(TextReview.evaluation_id == evaluation_id))
    assert review is not None
    return review


def _order(session: Session, evaluation_id: int | None) -> WorkOrder:
    order = session.scalar(select(WorkOrder).where(WorkOrder.evaluation_id == evaluation_id))
    assert order is not None
    return order


def build_world(db: Database) -> World:
    """The month described in the module's docstring, committed and folded."""
    with db.transaction() as session:
        catalog = make_catalog(session)
        for code, profile in (("450000", "gx_public"), ("450224", "ra_public")):
            region = session.get(Region, code)
            assert region is not None
            region.profile = profile
        session.flush()
        cast = rongan_cast(session)
        rated(session, "PUB-S1-A", "S1", 5)
        rated(session, "PUB-S1-B", "S1", 4)
        revoked = rated(session, "PUB-S1-C", "S1", 1, labels=["attitude.3"], text=REVOKED)
        approved = rated(session, "PUB-S2-A", "S2", 1, labels=["attitude.3"], text=APPROVED)
        redacted = rated(
            session, "PUB-S2-B", "S2", 2, labels=["attitude.1"], text=ORIGINAL_REDACTED
        )
        pending = rated(
            session, "PUB-S3-A", "S3", 1, item="I-O2", labels=["quality.1"], text=PENDING
        )
        expired = rated(session, "PUB-S3-B", "S3", 2, item="I-O2", text=EXPIRED)
        rated(session, "PUB-S5-A", "S5", 5, item="I-O4")
        rated(session, "PUB-S4-A", "S4", 3, item="I-O3")
        assert pending is not None

        for evaluation_id in (approved, revoked):
            texts.approve(
                session=session,
                review_id=_review(session, evaluation_id).id,
                actor="zgb-ra",
                scope=Scope.all(),
                now=DAY,
            )
        texts.redact(
            session=session,
            review_id=_review(session, redacted).id,
            actor="zgb-ra",
            scope=Scope.all(),
            now=DAY,
            text=REDACTED,
            label_codes=["attitude.1"],
        )
        texts.expire_review(session, _review(session, expired).id, beijing(2026, 11, 26))

        # The approved bad review: verified, rectified, reported, the rater satisfied (F5).
        order = _order(session, approved)
        act(session, cast["office"], order, "transfer", DAY)
        act(
            session,
            cast["office"],
            order,
            "verify",
            DAY,
            verdict="true",
            cause="attitude",
            note="电话回访评价人张三丰，情况属实",
        )
        act(
            session,
            cast["other_clerk"],
            order,
            "submit_report",
            DAY,
            measures=MEASURES,
            responsible_person=RESPONSIBLE,
            report_text=REPORT,
        )
        for who, action in (
            ("head", "approve_report"),
            ("office", "confirm_rectification"),
            ("leader", "leader_approve"),
            ("office", "report_upward"),
        ):
            act(session, cast[who], order, action, DAY)
        act(session, cast["office"], order, "send_feedback", DAY, feedback_text="已整改")
        out = act(
            session, cast["office"], order, "record_revisit", DAY, outcome="satisfied", note="满意"
        )
        assert out.state == "closed"

        # The revoked one: a mistaken rating, the appeal upheld by the city office (RA Art.9).
        order = _order(session, revoked)
        act(session, cast["office"], order, "transfer", DAY)
        act(session, cast["office"], order, "verify", DAY, verdict="mistaken", note="误评")
        act(session, cast["clerk"], order, "file_appeal", DAY, note="误评")
        act(session, cast["office"], order, "check_appeal", DAY, approved=True)
        act(session, cast["leader"], order, "approve_appeal", DAY, approved=True)
        out = act(session, cast["city"], order, "decide_appeal", DAY, approved=True, note="同意")
        assert out.state == "revoked"

        rollup.fold(session)
        order_nos = list(session.scalars(select(WorkOrder.order_no)))
        assert len(order_nos) == 5
        orgs = {code: org.id for code, org in catalog["orgs"].items()}
    case_nos = [f"PUB-{x}" for x in ("S1-A", "S1-B", "S1-C", "S2-A", "S2-B", "S3-A", "S3-B")]
    return World(orgs, order_nos, case_nos)


@pytest.fixture
def world(committed_db: Database, profiles: None) -> World:
    return build_world(committed_db)


@pytest.fixture
def client(committed_db: Database, world: World) -> Iterator[TestClient]:
    app = create_app(db=committed_db, clock=lambda: NOW, tick_interval=0)
    with TestClient(app) as c:
        yield c


def _get(client: TestClient, url: str, **headers: str) -> httpx.Response:
    response: httpx.Response = client.get(url, headers=headers)
    return response


def _figure(html: str, ident: str) -> str:
    found = re.search(rf'id="{ident}"><dt>[^<]*</dt><dd>([^<]*)</dd>', html)
    assert found, ident
    return found.group(1)


def _row(html: str, ident: str) -> list[str]:
    """The cells of the table row ``id``, tags stripped."""
    found = re.search(rf'<tr id="{ident}">(.*?)</tr>', html, re.S)
    assert found, ident
    cells = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", found.group(1), re.S)
    return [re.sub(r"<[^>]+>", "", c).strip() for c in cells]


def _expected(db: Database, dimension: Dimension, key: str) -> UnitMetrics:
    with db.transaction() as session:
        return statistics.overview(session, Scope.all(), dimension, key, NOVEMBER).unit


def _check_figures(html: str, figures: UnitMetrics) -> None:
    tally = figures.work_orders
    assert _figure(html, "fig-evaluations") == str(figures.evaluations)
    assert _figure(html, "fig-average") == format_score(figures.average)
    assert _figure(html, "fig-active-rate") == format_share(figures.active_rate)
    assert _figure(html, "fig-bad") == str(figures.bad)
    assert _figure(html, "fig-bad-rate") == format_share(figures.bad_rate)
    assert _figure(html, "wo-opened") == str(tally.opened)
    assert _figure(html, "wo-closed") == str(tally.closed)
    assert _figure(html, "wo-rectified") == str(tally.rectified)
    assert _figure(html, "wo-on-time") == str(tally.on_time)
    assert _figure(html, "wo-upheld") == str(tally.upheld)


def test_G1_region_figures_equal_the_statistics_and_leave_revoked_evaluations_out(
    client: TestClient, committed_db: Database, world: World
) -> None:
    r = _get(client, "/public/regions/450224?period=2026-11")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    figures = _expected(committed_db, Dimension.region, "450224")
    _check_figures(html, figures)
    # By hand: six evaluations (the revoked one is out), 10 + 8 + 0 + 3 + 0 + 3 points.
    assert (figures.evaluations, figures.average, figures.bad) == (6, 4.0, 4)
    assert _figure(html, "fig-average") == "4.00"
    # Five orders; one rectified and closed on time, one revoked after the appeal (closed too).
    tally = figures.work_orders
    assert (tally.opened, tally.closed, tally.rectified, tally.on_time, tally.upheld) == (
        5,
        2,
        1,
        2,
        1,
    )
    # Organisations of a Rong'an page: ranked only from 30 evaluations on (min-sample rule).
    assert _row(html, f"org-{world.orgs['O1']}")[0] == "不排名"
    assert "不足 30 条的单位不参与排名" in html
    assert "<h1>融安县政务服务评价结果</h1>" in html


def test_G1_city_page_ranks_sub_regions_and_organisations_like_the_service(
    client: TestClient, committed_db: Database
) -> None:
    html = _get(client, "/public/regions/450200?period=2026-11").text
    _check_figures(html, _expected(committed_db, Dimension.region, "450200"))
    with committed_db.transaction() as session:
        regions = statistics.ranking(
            session,
            Scope.all(),
            statistics.Selection(dimension=Dimension.region, period=NOVEMBER, region="450200"),
        )
        orgs = statistics.ranking(
            session,
            Scope.all(),
            statistics.Selection(dimension=Dimension.org, period=NOVEMBER, region="450200"),
        )
    assert regions.explanation in html and orgs.min_evaluations == 1
    assert {u.code for u in regions.items} == {"450224", "450225"}
    for unit in regions.items:
        assert unit.rank is not None
        assert _row(html, f"region-{unit.code}") == [
            f"第 {unit.rank} / {unit.group_size} 名",
            unit.name,
            str(unit.evaluations),
            format_score(unit.average),
            format_score(unit.shrunk),
            format_share(unit.bad_rate),
        ]
    for unit in orgs.items:
        cells = _row(html, f"org-{unit.key}")
        rank = f"第 {unit.rank} / {unit.group_size} 名" if unit.rank else "不排名"
        assert cells[0] == rank and cells[1].startswith(unit.name)
        assert cells[2:] == [
            str(unit.evaluations),
            format_score(unit.average),
            format_score(unit.shrunk) if unit.ranked else "—",
            format_share(unit.bad_rate),
        ]
    # The shrunk score pulls 融水县's single perfect rating towards the group's mean.
    shrunk = {u.code: u.shrunk for u in regions.items}
    assert shrunk["450225"] is not None and shrunk["450225"] < 10


def test_G1_org_page_figures_and_rank_as_on_its_city_page(
    client: TestClient, committed_db: Database, world: World
) -> None:
    o1 = world.orgs["O1"]
    html = _get(client, f"/public/orgs/{o1}?period=2026-11").text
    _check_figures(html, _expected(committed_db, Dimension.org, str(o1)))
    with committed_db.transaction() as session:
        ranking = statistics.ranking(
            session,
            Scope.all(),
            statistics.Selection(dimension=Dimension.org, period=NOVEMBER, region="450200"),
        )
    entry = next(u for u in ranking.items if u.key == str(o1))
    assert entry.rank is not None
    assert (
        f"在柳州市{entry.group}部门中排第 <strong>{entry.rank}</strong> 名"
        f"（共 {entry.group_size} 个参与排名），修正得分 {format_score(entry.shrunk)}"
    ) in html
    assert "<h1>融安县公安局评价结果</h1>" in html
    assert 'href="/public/regions/450224?period=2026-11"' in html


def test_C9_no_personal_data_case_or_order_numbers_staff_or_measures_on_any_page(
    client: TestClient, world: World
) -> None:
    urls = [
        "/public/",
        "/public/?period=2026-11",
        *(f"/public/regions/{c}?period=2026-11" for c in ("450000", "450200", "450224")),
        *(f"/public/orgs/{world.orgs[c]}?period=2026-11" for c in ("O1", "O2", "O3", "O4")),
    ]
    forbidden = [
        *APPLICANT,
        PHONE,
        *world.case_nos,
        *world.order_nos,
        "工作人员S",
        "号窗口",
        RESPONSIBLE,
        MEASURES,
        REPORT,
        "王小明",
        "zgb-ra",
    ]
    for url in urls:
        r = _get(client, url)
        assert r.status_code == 200, url
        assert "set-cookie" not in r.headers, url
        leaks = [word for word in forbidden if word in r.text]
        assert not leaks, (url, leaks)
    # What is published of the rectification: its category and outcome.
    html = _get(client, f"/public/orgs/{world.orgs['O1']}?period=2026-11").text
    assert _row_text(html, "2026年11月", "融安县公安局", "服务态度", "已整改", "按时办结")


def _row_text(html: str, *cells: str) -> bool:
    row = "".join(f"<td>{c}</td>" for c in cells)
    return row in html


def test_E1_only_approved_or_redacted_text_is_published(client: TestClient, world: World) -> None:
    for url in ("/public/regions/450224?period=2026-11", f"/public/orgs/{world.orgs['O1']}"):
        html = _get(client, url).text
        assert APPROVED in html and REDACTED in html, url
        # The original of the redacted text, a pending one, an expired one, a revoked one: never.
        for hidden in (ORIGINAL_REDACTED, PENDING, EXPIRED, REVOKED):
            assert hidden not in html, (url, hidden)
    html = _get(client, "/public/regions/450224?period=2026-11").text
    items = re.findall(r"<li>(.*?)</li>", html.split('id="texts-title"')[1], re.S)
    assert len(items) == 2
    first, second = sorted(items, key=lambda t: APPROVED not in t)
    assert "非常不满意" in first and "已整改办结" in first and "融安县公安局" in first
    # RA's labels by name (the code never shows); the redaction kept the one label.
    assert "评价内容：" in first and "attitude." not in html
    assert "不满意" in second and "核实中" in second
    # O2's page: its texts are pending or expired, so nothing is shown.
    o2 = _get(client, f"/public/orgs/{world.orgs['O2']}?period=2026-11").text
    assert "本期暂无经审核公开的差评内容" in o2


def test_G1_a_profile_that_publishes_no_texts_shows_none(
    client: TestClient, committed_db: Database
) -> None:
    with committed_db.transaction() as session:
        region = session.get(Region, "450224")
        assert region is not None
        region.profile = "ra_quiet"
    html = _get(client, "/public/regions/450224?period=2026-11").text
    assert APPROVED not in html and REDACTED not in html
    assert "按本地区规定，差评内容不在本页面公开" in html


def test_G1_default_period_is_the_last_complete_month(client: TestClient) -> None:
    html = _get(client, "/public/regions/450224").text
    assert "统计周期：<strong>2026年11月</strong>" in html
    assert 'href="/public/regions/450224?period=2026-10" rel="prev"' in html
    # December is not complete on 3 December: no link to it.
    assert 'rel="next"' not in html
    assert 'rel="next"' in _get(client, "/public/regions/450224?period=2026-10").text
    index = _get(client, "/public/").text
    assert 'href="/public/regions/450000?period=2026-11"' in index
    assert _row(index, "region-450200")[:2] == ["柳州市", "8"]


def test_G1_pages_are_cacheable_with_an_etag_and_304(client: TestClient) -> None:
    url = "/public/regions/450224?period=2026-11"
    first = _get(client, url)
    assert first.headers["cache-control"] == "public, max-age=300"
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    assert _get(client, url).headers["etag"] == etag
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = _get(client, url, **{"If-None-Match": header})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "public, max-age=300"
    assert _get(client, url, **{"If-None-Match": '"other"'}).status_code == 200
    # Another period is another page.
    assert _get(client, "/public/regions/450224?period=2026-10").headers["etag"] != etag
    css = _get(client, "/public/static/public.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]


@pytest.mark.parametrize(
    ("url", "status", "message"),
    [
        ("/public/regions/999999", 404, "未找到该地区"),
        ("/public/regions/abc", 404, "未找到该地区"),
        ("/public/orgs/999999", 404, "未找到该部门"),
        ("/public/orgs/abc", 404, "未找到该部门"),
        ("/public/orgs/99999999999999999999", 404, "未找到该部门"),
        ("/public/regions/450224?period=2026-13", 422, "统计周期格式不正确"),
        ("/public/?period=last-month", 422, "统计周期格式不正确"),
        (f"/public/regions/450224?period={'9' * 50}", 422, "查询条件格式不正确"),
    ],
)
def test_G1_refusals_are_pages_in_chinese(
    client: TestClient, url: str, status: int, message: str
) -> None:
    r = _get(client, url)
    assert r.status_code == status
    assert r.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in r.text and message in r.text
    assert "Traceback" not in r.text and "set-cookie" not in r.headers


def test_G1_pages_need_no_login_and_declare_a_public_rule(client: TestClient) -> None:
    """No session, no cookie; each route declares exactly one rule (public) and a rate limit,
    as the permission matrix requires of every route."""
    app = client.app
    assert isinstance(app, FastAPI)
    routes = [r for r in api_routes(app) if r.path.startswith("/public")]
    assert {r.path for r in routes} == {
        "/public/",
        "/public/regions/{code}",
        "/public/orgs/{ident}",
        # 综合点评 (D2, D3): the citizens' form, their status page and the published list.
        "/public/remarks",
        "/public/remarks/new",
        "/public/remarks/query",
    }
    for route in routes:
        rules = route_rules(route)
        assert len(rules) == 1 and isinstance(rules[0], Public)
        assert route_rate_limits(route)


def test_G1_a_rate_limited_caller_gets_a_page_that_is_not_cached(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*_: object) -> None:
        raise RateLimited(30)

    monkeypatch.setattr(reading, "find_region", refuse)
    r = _get(client, "/public/regions/450224")
    assert r.status_code == 429 and r.headers["retry-after"] == "30"
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    assert RATE_LIMITED_MESSAGE in r.text and '<html lang="zh-CN">' in r.text


def test_head_and_unknown_addresses_answer_like_pages(client: TestClient) -> None:
    """A cache or crawler may ask HEAD; a mistyped address under /public gets a page in
    Chinese, not the API's JSON."""
    head = client.head("/public/")
    assert head.status_code == 200 and head.headers["cache-control"].startswith("public")
    missing = client.get("/public/no-such-page")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "页面不存在" in missing.text
    refused = client.post("/public/")
    assert refused.status_code == 405 and refused.headers["content-type"].startswith("text/html")
