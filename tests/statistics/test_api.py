"""Issue 6 over HTTP: /api/v1/stats and the console dashboard, inside the caller's scope
(a county office sees its subtree only, in pages, API and exports), refusals in Chinese."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from docx import Document
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from haochaping.app import create_app
from haochaping.config import get_settings
from haochaping.db import Database
from tests.api_clients import Official, add_official
from tests.factories import T0
from tests.statistics.fixture import build_november

API = "/api/v1/stats"


@dataclass
class World:
    client: TestClient
    province: Official
    county: Official
    clerk: Official
    manager: Official


@pytest.fixture
def world(committed_db: Database) -> Iterator[World]:
    get_settings.cache_clear()
    with committed_db.transaction() as session:
        build_november(session)
    app = create_app(db=committed_db, clock=lambda: T0, tick_interval=0)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield World(
            client,
            add_official(committed_db, "zgb-gx", "supervisor:450000", now=T0),
            add_official(committed_db, "zgb-ra", "supervisor:450224", now=T0),
            add_official(committed_db, "ck-s1", "window_staff:S1", now=T0),
            add_official(committed_db, "jg-o1", "org_manager:O1", now=T0),
        )


def _get(world: World, who: Official, path: str, **params: object) -> object:
    return world.client.get(path, params=params, headers=who.headers())


def test_table_ranking_and_focus_for_a_province_office(world: World) -> None:
    r = world.client.get(
        f"{API}/table",
        params={
            "dimension": "org",
            "period": "2026-11",
            "region": "450000",
            "sort": "average",
            "order": "desc",
        },
        headers=world.province.headers(),
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["period_label"] == "2026年11月"
    rows = {row["code"]: row for row in body["items"]}
    assert rows["O1"]["evaluations"] == 6 and rows["O1"]["average"] == pytest.approx(44 / 6)
    assert rows["O1"]["work_orders"]["opened"] == 1
    averages = [row["average"] for row in body["items"] if row["average"] is not None]
    assert averages == sorted(averages, reverse=True)
    paged = world.client.get(
        f"{API}/table",
        params={"dimension": "org", "period": "2026-11", "page": 2, "page_size": 2},
        headers=world.province.headers(),
    ).json()
    assert paged["total"] == body["total"] and len(paged["items"]) == 2
    ranking = world.client.get(
        f"{API}/ranking",
        params={"dimension": "region", "period": "2026-11", "region": "450200"},
        headers=world.province.headers(),
    ).json()
    # Seven and one evaluations: below the 30 a unit needs to be ranked (F6 profile default).
    assert ranking["min_evaluations"] == 30
    assert all(item["rank"] is None and not item["ranked"] for item in ranking["items"])
    assert "修正得分" in ranking["explanation"]
    focus = world.client.get(
        f"{API}/focus",
        params={"dimension": "staff", "period": "2026-11"},
        headers=world.province.headers(),
    )
    assert focus.status_code == 200 and focus.json() == []


def test_overview_and_hot_words(world: World) -> None:
    view = world.client.get(
        f"{API}/overview",
        params={"dimension": "region", "key": "450224", "period": "2026-11"},
        headers=world.county.headers(),
    ).json()
    assert view["unit"]["evaluations"] == 7
    assert {c["channel"] for c in view["channels"]} == {0, 2, 4}
    words = world.client.get(
        f"{API}/hot-words",
        params={"dimension": "region", "key": "450224", "period": "2026-11"},
        headers=world.county.headers(),
    ).json()
    counts = {w["word"]: w["count"] for w in words}
    # Both bad reviews complain that materials were sent back (G3).
    assert counts["材料"] == 2 and counts["退回"] == 2
    assert len(next(w for w in words if w["word"] == "材料")["evaluation_ids"]) == 2


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"period": "2026-13"}, 422, "invalid_period"),
        ({"period": "最近"}, 422, "invalid_period"),
        ({"region": "999999"}, 404, "region_not_found"),
        ({"region": "450225"}, 403, "out_of_scope"),
        ({"region": "450000"}, 403, "out_of_scope"),
        ({"dimension": "nothing"}, 422, "invalid_request"),
    ],
)
def test_refusals_are_clear_and_in_chinese(
    world: World, params: dict[str, str], status: int, code: str
) -> None:
    r = world.client.get(f"{API}/table", params=params, headers=world.county.headers())
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"])


def test_clerks_and_managers_see_only_their_own_units(world: World) -> None:
    r = world.client.get(
        f"{API}/table",
        params={"dimension": "staff", "period": "2026-11"},
        headers=world.clerk.headers(),
    )
    assert [row["code"] for row in r.json()["items"]] == ["S1"]
    r = world.client.get(
        f"{API}/table", params={"dimension": "region"}, headers=world.clerk.headers()
    )
    assert r.status_code == 403 and r.json()["code"] == "dimension_out_of_scope"
    r = world.client.get(
        f"{API}/table",
        params={"dimension": "staff", "period": "2026-11"},
        headers=world.manager.headers(),
    )
    assert {row["code"] for row in r.json()["items"]} == {"S1", "S2"}
    r = world.client.get(
        f"{API}/overview",
        params={"dimension": "org", "key": "999"},
        headers=world.manager.headers(),
    )
    assert r.status_code == 404


def test_exports_are_xlsx_inside_the_scope(world: World) -> None:
    r = world.client.get(
        f"{API}/export.xlsx",
        params={"dimension": "org", "period": "2026-11", "kind": "ranking"},
        headers=world.county.headers(),
    )
    assert r.status_code == 200
    sheet = load_workbook(io.BytesIO(r.content)).active
    assert sheet is not None
    header = [c.value for c in sheet[1]]
    assert header[:4] == ["排名", "参与排名单位数", "修正得分", "组内平均分"]
    names = {row[5] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert names == {"融安县公安局", "融安县不动产登记中心"}
    refused = world.client.get(
        f"{API}/export.xlsx", params={"region": "450200"}, headers=world.county.headers()
    )
    assert refused.status_code == 403


def test_business_systems_and_strangers_have_no_dashboards(world: World) -> None:
    assert world.client.get(f"{API}/table").status_code == 401
    r = world.client.get(f"{API}/table", headers={"X-HCP-Client": "someone"})
    assert r.status_code == 403


def test_console_dashboard_drills_down_inside_the_scope(world: World) -> None:
    page = world.client.get(
        "/console/stats", params={"period": "2026-11"}, headers=world.county.headers()
    )
    assert page.status_code == 200, page.text
    html = page.text
    assert "融安县" in html and "融安县公安局" in html and "柳州市公安局" not in html
    assert "/console/static/vendor/echarts.min.js" in html
    assert "script-src 'self'" in page.headers["content-security-policy"]
    org = world.client.get(
        "/console/stats",
        params={"org": _org_id(world), "period": "2026-11"},
        headers=world.county.headers(),
    )
    assert org.status_code == 200 and "工作人员SS1" not in org.text and "工作人员S1" in org.text
    other = world.client.get(
        "/console/stats", params={"region": "450225"}, headers=world.county.headers()
    )
    assert other.status_code == 403 and "不在您的授权范围内" in other.text
    words = world.client.get(
        "/console/stats/reviews",
        params={"word": "材料", "dimension": "region", "key": "450224", "period": "2026-11"},
        headers=world.county.headers(),
    )
    assert words.status_code == 200 and words.text.count("材料反复退回") == 2
    clerk = world.client.get(
        "/console/stats", params={"period": "2026-11"}, headers=world.clerk.headers()
    )
    assert clerk.status_code == 200 and "工作人员S1" in clerk.text


def _org_id(world: World) -> int:
    rows = world.client.get(
        f"{API}/table",
        params={"dimension": "org", "period": "2026-11"},
        headers=world.county.headers(),
    ).json()["items"]
    return int(next(r["key"] for r in rows if r["code"] == "O1"))


def test_G2_console_bulletin_downloads_inside_the_scope(world: World) -> None:
    """The dashboard's bulletin links: the Word 通报 and its workbook of the office's region;
    another region, or a clerk, is refused."""
    docx = world.client.get(
        "/console/stats/bulletin.docx",
        params={"region": "450224", "period": "2026-11"},
        headers=world.county.headers(),
    )
    assert docx.status_code == 200, docx.text
    assert docx.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml"
    )
    assert "filename*=UTF-8''" in docx.headers["content-disposition"]
    assert Document(io.BytesIO(docx.content)).paragraphs
    xlsx = world.client.get(
        "/console/stats/bulletin.xlsx",
        params={"region": "450224", "period": "2026-11"},
        headers=world.county.headers(),
    )
    assert xlsx.status_code == 200
    assert "总体情况" in load_workbook(io.BytesIO(xlsx.content)).sheetnames
    page = world.client.get(
        "/console/stats", params={"period": "2026-11"}, headers=world.county.headers()
    )
    assert "/console/stats/bulletin.docx?region=450224&amp;period=2026-11" in page.text
    wider = world.client.get(
        "/console/stats/bulletin.docx",
        params={"region": "450000", "period": "2026-11"},
        headers=world.county.headers(),
    )
    assert wider.status_code == 403 and "不在您的授权范围内" in wider.text
    clerk = world.client.get(
        "/console/stats/bulletin.xlsx", params={"period": "2026-11"}, headers=world.clerk.headers()
    )
    assert clerk.status_code == 403
    bad = world.client.get(
        "/console/stats/bulletin.pdf", params={"period": "2026-11"}, headers=world.county.headers()
    )
    assert bad.status_code in (404, 422)


def test_the_tables_behind_the_charts_export_to_xlsx_inside_the_scope(world: World) -> None:
    page = world.client.get(
        "/console/stats", params={"period": "2026-11"}, headers=world.county.headers()
    )
    assert "/console/stats/overview.xlsx?period=2026-11&amp;region=450224" in page.text
    r = world.client.get(
        "/console/stats/overview.xlsx",
        params={"region": "450224", "period": "2026-11"},
        headers=world.county.headers(),
    )
    assert r.status_code == 200, r.text
    book = load_workbook(io.BytesIO(r.content))
    assert book.sheetnames[1:] == ["每日趋势", "等级分布", "评价渠道", "评价标签"]
    levels = {row[0]: row[1] for row in book["等级分布"].iter_rows(min_row=2, values_only=True)}
    # 融安县 in November: S1 5, 4, 3 and a default 5; S2 1 and 5; S3 2 (fixture.py).
    assert levels == {"非常满意": 3, "满意": 1, "基本满意": 1, "不满意": 1, "非常不满意": 1}
    days = list(book["每日趋势"].iter_rows(min_row=2, values_only=True))
    assert len(days) == 30 and sum(d[1] for d in days) == 7
    refused = world.client.get(
        "/console/stats/overview.xlsx",
        params={"region": "450000", "period": "2026-11"},
        headers=world.county.headers(),
    )
    assert refused.status_code == 403
