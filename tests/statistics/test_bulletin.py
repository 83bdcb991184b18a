"""G2 (with G1, G3, F6): the monthly bulletin of a region, as a workbook and a Word 通报, on the
hand-computed November 2026 of ``fixture.py``. The figures must be the statistics service's,
the rater must never appear (C9), the text of a bad review only as published (E1), and a
supervisor gets bulletins of their own region subtree only."""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from haochaping.access.scope import Scope, scope_of
from haochaping.catalog.models import Region
from haochaping.cli import report
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.errors import DomainError
from haochaping.statistics import service
from haochaping.statistics.bulletin import build_bulletin, bulletin_filename, charts, render
from haochaping.statistics.bulletin.content import Bulletin, area_word, gather, scrub
from haochaping.statistics.periods import parse_period
from haochaping.statistics.schemas import Dimension, TrendPoint
from haochaping.textreview import service as textreview
from haochaping.textreview.models import TextReview
from haochaping.workorders.models import WorkOrder
from tests.factories import T0, make_catalog, occasions_of, rate, register
from tests.statistics.fixture import NOVEMBER, build_november, extra_profile

PERIOD = parse_period(NOVEMBER)
NOW = T0 + timedelta(days=9)
CITY = "450200"
# The rater of every case of tests.factories.case_in (C9: never in a bulletin).
RATER = ("张三丰", "13812348000", "450224199001011234")
SHEETS = [
    "总体情况",
    "下级地区",
    "部门",
    "窗口",
    "工作人员",
    "业务条线",
    "服务事项",
    "排名",
    "重点关注",
    "超期工单",
]
PROFILE = "bulletin_test"
# Guangxi with minimums small enough for a hand-computed month to be ranked (F6 settings are
# profile data, P1).
PROFILE_YAML = f"""\
name: {PROFILE}
title: 测试配置：小样本排名
version: "test-1"
extends: guangxi
supervision:
  ranking_min_evaluations: 2
  ranking_prior_weight: 2
  focus_min_evaluations: 2
  focus_share: 0.3
"""
MEASURES = (
    f"已电话联系评价人{RATER[0]}（{RATER[1]}）致歉；对窗口人员批评教育，"
    "组织窗口全员开展服务礼仪培训。"
)


@pytest.fixture
def small_samples(tmp_path: Path) -> Iterator[str]:
    with extra_profile(tmp_path / "policies", PROFILE, PROFILE_YAML) as name:
        yield name


def _november(session: Session, profile: str | None = None) -> dict[str, Any]:
    """The fixture month; S2's bad review published after a redaction, with its order's
    verification and measures; S3's still under review."""
    built = build_november(session)
    ids: dict[str, int] = built["ids"]  # type: ignore[assignment]
    review = session.scalar(select(TextReview).where(TextReview.evaluation_id == ids["s2a"]))
    assert review is not None
    textreview.redact(
        session=session,
        review_id=review.id,
        actor="user:sup",
        scope=Scope.all(),
        now=T0 + timedelta(days=1),
        text="窗口工作人员态度生硬，**反复退回",
        label_codes=["attitude.3"],
    )
    order = session.scalar(select(WorkOrder).where(WorkOrder.evaluation_id == ids["s2a"]))
    assert order is not None
    order.verdict, order.cause, order.measures = "true", "attitude", MEASURES
    session.flush()
    if profile is not None:
        city = session.get(Region, CITY)
        assert city is not None
        city.profile = profile
        session.flush()
    return built


def _sheet_rows(sheet: Worksheet, first_header: str) -> tuple[list[str], list[list[Any]]]:
    """The header row (found by its first cell) and the rows under it."""
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    index = next(i for i, r in enumerate(rows) if r[0] == first_header)
    return [str(c) for c in rows[index]], rows[index + 1 :]


def _records(sheet: Worksheet, first_header: str) -> list[dict[str, Any]]:
    header, rows = _sheet_rows(sheet, first_header)
    return [dict(zip(header, row, strict=True)) for row in rows]


def _texts(content: bytes) -> str:
    """Every XML part of an xlsx or docx, as text."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return "\n".join(
            archive.read(name).decode("utf-8")
            for name in archive.namelist()
            if name.endswith((".xml", ".rels"))
        )


def _docx_text(content: bytes) -> str:
    doc = Document(io.BytesIO(content))
    return "\n".join(p.text for p in doc.paragraphs)


# --- the workbook ---------------------------------------------------------------------------------


def test_G2_workbook_has_a_sheet_per_dimension_and_the_services_figures(
    session: Session, small_samples: str
) -> None:
    _november(session, small_samples)
    xlsx, _ = build_bulletin(session, Scope.all(), CITY, PERIOD, now=NOW)
    book = load_workbook(io.BytesIO(xlsx))
    assert book.sheetnames == SHEETS

    names = {
        Dimension.region: "下级地区",
        Dimension.org: "部门",
        Dimension.window: "窗口",
        Dimension.staff: "工作人员",
        Dimension.line: "业务条线",
        Dimension.item: "服务事项",
    }
    for dimension, sheet_name in names.items():
        selection = service.Selection(dimension=dimension, period=PERIOD, region=CITY)
        expected = service.table(session, Scope.all(), selection)
        got = {r["代码"]: r for r in _records(book[sheet_name], "代码") if r["代码"] != "（无）"}
        assert set(got) == {row.code for row in expected}, sheet_name
        for row in expected:
            line = got[row.code]
            assert line["名称"] == row.name
            assert line["评价数"] == row.evaluations
            assert line["平均得分"] == pytest.approx(row.average)
            assert line["差评数"] == row.bad
            assert line["差评率"] == pytest.approx(row.bad_rate)
            assert line["默认评价数"] == row.default.evaluations
            assert line["差评工单数"] == row.work_orders.opened
    # 柳州市: 融安县 7 evaluations (47 points), 融水县 1 (10 points) (fixture.py).
    regions = {r["代码"]: r for r in _records(book["下级地区"], "代码")}
    assert regions["450224"]["评价数"] == 7
    assert regions["450224"]["平均得分"] == pytest.approx(47 / 7)

    sheet = book["部门"]
    header, _ = _sheet_rows(sheet, "代码")
    header_row = next(
        i for i, r in enumerate(sheet.iter_rows(values_only=True), start=1) if r[0] == "代码"
    )
    assert sheet.freeze_panes == f"C{header_row + 1}"
    assert sheet.cell(row=header_row, column=1).font.bold
    rate_column = header.index("差评率") + 1
    score_column = header.index("平均得分") + 1
    assert sheet.cell(row=header_row + 1, column=rate_column).number_format == "0.0%"
    assert sheet.cell(row=header_row + 1, column=score_column).number_format == "0.00"
    assert (sheet.column_dimensions["B"].width or 0) > 8

    summary = {r["指标"]: r for r in _records(book["总体情况"], "指标")}
    view = service.overview(session, Scope.all(), Dimension.region, CITY, PERIOD)
    assert summary["评价数（条）"]["本期"] == view.unit.evaluations == 8
    assert summary["评价数（条）"]["上期"] == 0
    assert summary["平均得分（分）"]["本期"] == pytest.approx(view.unit.average)
    assert summary["差评率"]["本期"] == pytest.approx(view.unit.bad_rate)


def test_G2_F6_ranking_focus_and_overdue_sheets(session: Session, small_samples: str) -> None:
    _november(session, small_samples)
    bulletin = gather(session, Scope.all(), CITY, PERIOD, now=NOW)
    book = load_workbook(io.BytesIO(render(bulletin)[0]))

    ranked = _records(book["排名"], "维度")
    selection = service.Selection(dimension=Dimension.staff, period=PERIOD, region=CITY)
    expected = service.ranking(session, Scope.all(), selection)
    assert expected.min_evaluations == 2
    staff = {r["代码"]: r for r in ranked if r["维度"] == "工作人员"}
    for item in expected.items:
        line = staff[item.code]
        assert line["名次"] == item.rank
        assert line["修正得分"] == pytest.approx(item.shrunk)
        assert line["组内平均分"] == pytest.approx(item.group_mean)
        if not item.ranked and item.shrunk is not None:
            assert "不足 2 条" in line["说明"]
    assert any(r["名次"] == 1 for r in staff.values())
    notes = [row[0] for row in book["排名"].iter_rows(values_only=True, max_row=3)]
    assert any("修正得分" in str(n) for n in notes)

    focus = _records(book["重点关注"], "维度")
    expected_focus = [
        entry
        for dimension in (Dimension.region, Dimension.org, Dimension.window, Dimension.staff)
        for entry in service.focus(
            session,
            Scope.all(),
            service.Selection(dimension=dimension, period=PERIOD, region=CITY),
        )
    ]
    assert expected_focus, "the small-sample profile makes S2 (50% bad) a focus object"
    listed = {(r["维度"], r["代码"]) for r in focus}
    for entry in expected_focus:
        assert (
            {"region": "地区", "org": "部门", "window": "窗口", "staff": "工作人员"}[
                entry.dimension.value
            ],
            entry.code,
        ) in listed

    # Eight days without action: the orders of S2 and S3 went past the RA deadlines (F5).
    overdue = _records(book["超期工单"], "工单编号")
    orders = session.scalars(select(WorkOrder).where(WorkOrder.overdue.is_(True))).all()
    assert orders
    assert {r["工单编号"] for r in overdue} == {o.order_no for o in orders}
    assert all(r["超期环节"] for r in overdue)
    assert {r["责任部门"] for r in overdue} <= {"融安县公安局", "融安县不动产登记中心"}


# --- the document ---------------------------------------------------------------------------------


def test_G2_document_title_summary_sections_and_charts(
    session: Session, small_samples: str
) -> None:
    _november(session, small_samples)
    bulletin = gather(
        session, Scope.all(), CITY, PERIOD, now=NOW, issuer="柳州市政务服务监督管理办公室"
    )
    _, docx = render(bulletin)
    text = _docx_text(docx)
    assert "关于2026年11月全市政务服务“好差评”情况的通报" in text
    for heading in (
        "一、总体情况",
        "二、排名情况",
        "三、重点关注对象",
        "四、典型差评及整改",
        "五、工作要求",
    ):
        assert heading in text
    unit = bulletin.current.unit
    assert "共产生评价8条" in text
    assert f"平均得分{unit.average:.2f}分" in text
    assert f"差评{unit.bad}条" in text
    assert "2026年11月19日" in text and "柳州市政务服务监督管理办公室" in text
    # The best of the staff ranking is named in the workbook, the best region in the text.
    assert "融水苗族自治县" in text or "融安县" in text
    doc = Document(io.BytesIO(docx))
    assert len(doc.inline_shapes) >= 3
    with zipfile.ZipFile(io.BytesIO(docx)) as archive:
        pictures = [n for n in archive.namelist() if n.startswith("word/media/")]
    assert pictures and all(n.endswith(".png") for n in pictures)


def test_E1_C9_typical_reviews_quote_only_published_text_and_never_the_rater(
    session: Session, small_samples: str
) -> None:
    _november(session, small_samples)
    xlsx, docx = build_bulletin(session, Scope.all(), CITY, PERIOD, now=NOW)
    text = _docx_text(docx)
    # S2's review as redacted (E1), with its order's cause and measures (F5, F6).
    assert "窗口工作人员态度生硬，**反复退回" in text
    assert "工作人员服务态度生硬" in text
    assert "服务态度" in text and "服务礼仪培训" in text
    # Neither S2's original wording nor S3's text, still under review, is quoted.
    assert "材料反复退回" not in text
    for content in (xlsx, docx):
        everything = _texts(content)
        for secret in RATER:
            assert secret not in everything
        assert "材料反复退回" not in everything


def test_scrub_masks_the_raters_own_strings_phones_and_id_numbers() -> None:
    masked = scrub("评价人李四，电话139 1234 5678，身份证450224199001011234", ["李四"])
    assert "李四" not in masked and "1234 5678" not in masked and "4502241990" not in masked
    assert masked.startswith("评价人**")


def test_empty_month_still_gives_a_complete_bulletin(session: Session) -> None:
    make_catalog(session)
    xlsx, docx = build_bulletin(session, Scope.all(), "450224", parse_period("2026-10"), now=NOW)
    assert load_workbook(io.BytesIO(xlsx)).sheetnames == SHEETS
    text = _docx_text(docx)
    assert "关于2026年10月全县政务服务“好差评”情况的通报" in text
    assert "暂无评价数据" in text and "本期无超期差评工单" in text
    assert len(Document(io.BytesIO(docx)).inline_shapes) >= 1


# --- scope ----------------------------------------------------------------------------------------


def test_scope_a_city_supervisor_gets_its_own_city_only(session: Session) -> None:
    _november(session)
    city = scope_of(session, region_codes={CITY})
    gathered = gather(session, city, None, PERIOD, now=NOW)
    assert gathered.region_code == CITY
    assert gather(session, city, "450224", PERIOD, now=NOW).region_name == "融安县"
    with pytest.raises(DomainError) as refused:
        build_bulletin(session, city, "420100", PERIOD)
    assert (refused.value.code, refused.value.status_code) == ("out_of_scope", 403)
    with pytest.raises(DomainError) as unknown:
        build_bulletin(session, city, "999999", PERIOD)
    assert unknown.value.status_code == 404
    organisation = Scope(org_ids=frozenset({1}))
    with pytest.raises(DomainError) as narrow:
        build_bulletin(session, organisation, None, PERIOD)
    assert narrow.value.code == "dimension_out_of_scope"


# --- pieces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "level", "word"),
    [
        ("广西壮族自治区", "province", "全区"),
        ("湖北省", "province", "全省"),
        ("柳州市", "city", "全市"),
        ("融安县", "county", "全县"),
        ("融水苗族自治县", "county", "全县"),
        ("城中区", "county", "全区"),
        ("延边朝鲜族自治州", "city", "全州"),
    ],
)
def test_bulletin_names_its_own_region_like_an_office_does(
    name: str, level: str, word: str
) -> None:
    assert area_word(name, level) == word


def test_filenames() -> None:
    assert bulletin_filename("450200", PERIOD, "xlsx") == "通报-450200-2026-11.xlsx"
    assert (
        bulletin_filename("450200", parse_period("2026-07..2026-10"), "docx")
        == "通报-450200-2026-07至2026-10.docx"
    )


def test_charts_find_the_cjk_font_and_render_without_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    points = [TrendPoint(day="2026-11-01", evaluations=3, active=2, average=8.0, bad=1)]
    if charts.PREFERRED_FONT.is_file():
        assert charts.cjk_font() == "WenQuanYi Micro Hei"
    png = charts.trend_chart(points, "每日评价情况")
    assert png.startswith(b"\x89PNG")

    charts.cjk_font.cache_clear()
    monkeypatch.setattr(charts, "PREFERRED_FONT", Path("/nonexistent/font.ttc"))
    monkeypatch.setattr(charts, "CJK_FAMILIES", ("No Such Font",))
    with caplog.at_level(logging.WARNING, logger=charts.__name__):
        assert charts.cjk_font() is None
        png = charts.levels_chart({5: 2, 1: 1}, {5: "非常满意", 1: "非常不满意"}, "等级")
    assert png.startswith(b"\x89PNG")
    assert any("未找到中文字体" in r.getMessage() for r in caplog.records)
    charts.cjk_font.cache_clear()


# --- the command ----------------------------------------------------------------------------------


@pytest.fixture
def runner(committed_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("HCP_DATABASE_URL", committed_db.url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_writes_both_files_after_folding_the_queue(
    runner: CliRunner, committed_db: Database, tmp_path: Path
) -> None:
    with committed_db.transaction() as session:
        make_catalog(session)
        case = register(session, "CLI-1", staff_code="S1", accepted_at=T0, completed_at=T0)
        rate(session, occasions_of(session, case)[0].id, 5)
    out = tmp_path / "out"
    result = runner.invoke(
        report.app, ["bulletin", "--region", "450224", "--period", "2026-11", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    xlsx, docx = out / "通报-450224-2026-11.xlsx", out / "通报-450224-2026-11.docx"
    assert xlsx.is_file() and docx.is_file()
    assert str(xlsx.name) in result.output and str(docx.name) in result.output
    # The evaluation was still queued: the command folded it before counting.
    summary = {r["指标"]: r for r in _records(load_workbook(xlsx)["总体情况"], "指标")}
    assert summary["评价数（条）"]["本期"] == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--region", "999999", "--period", "2026-11"], "未找到该行政区划"),
        (["--region", "450224", "--period", "2026-13"], "统计周期格式不正确"),
        (["--region", "450224", "--period", "十一月"], "统计周期格式不正确"),
    ],
)
def test_cli_refuses_bad_input_in_chinese_with_exit_code_1(
    runner: CliRunner,
    committed_db: Database,
    tmp_path: Path,
    arguments: list[str],
    message: str,
) -> None:
    with committed_db.transaction() as session:
        make_catalog(session)
    result = runner.invoke(report.app, ["bulletin", *arguments, "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())


def test_bulletin_dataclass_compares_with_the_previous_period(session: Session) -> None:
    _november(session)
    quarter: Bulletin = gather(session, Scope.all(), CITY, parse_period("2026-Q4"), now=NOW)
    assert quarter.compared_to == "较上季度" and quarter.previous.code == "2026-07..2026-09"
    month = gather(session, Scope.all(), CITY, PERIOD, now=NOW)
    assert month.compared_to == "较上月" and month.previous.code == "2026-10"
