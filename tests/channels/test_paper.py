"""Paper forms (ZZ, D2; C8): the printable form of a window, `haochaping import paper FILE`
validated row by row (good rows stored, every bad row reported with its number and reason:
late, wrong label, unknown case, duplicate…), and entry through the console form."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from haochaping.access.scope import Scope
from haochaping.app import create_app
from haochaping.catalog.models import Hall, Window
from haochaping.channels import paper
from haochaping.channels.paper_models import PaperForm
from haochaping.cli import app as cli_app
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.errors import DomainError
from haochaping.evaluations.models import Channel, Evaluation
from tests.api_clients import Official, add_official
from tests.factories import T0, make_catalog, register

# Wednesday, the day after the handling day (T0, a Tuesday).
NOW = T0 + timedelta(days=1)
TODAY = "2026-11-11"
HANDLED = "2026-11-10"


def build(session: Session) -> None:
    catalog = make_catalog(session)
    hall = Hall(code="HALL-ZZ", name="枣庄市政务服务中心", region_code="370400")
    session.add(hall)
    session.flush()
    window = Window(code="WZ", name="公安窗口", hall_id=hall.id, org_id=catalog["orgs"]["Z1"].id)
    session.add(window)
    session.flush()
    catalog["staff"]["SZ"].window_id = window.id
    session.flush()
    at_w1 = {"staff_code": "S1", "window_code": "W1"}
    register(session, "RA-1", **at_w1)
    register(session, "RA-2", **at_w1)
    register(session, "RA-3", **at_w1)
    register(session, "ZZ-1", "I-ZZ", staff_code="SZ", window_code="WZ")
    late = T0 - timedelta(days=10)
    register(
        session,
        "ZZ-LATE",
        "I-ZZ",
        now=late,
        accepted_at=late,
        completed_at=late,
        staff_code="SZ",
        window_code="WZ",
    )


HEADER = ["case_no", "stage", "level", "labels", "text", "filled_on"]
ROWS = [
    # 2: good, a bad review with labels written by name and by code
    ["RA-1", "", "2", "工作人员服务态度生硬、attitude.1", "等了很久", TODAY],
    # 3: good, 非常满意 by name, the ZZ case within its 5 working days (C8)
    ["ZZ-1", "办结", "非常满意", "", "", HANDLED],
    # 4: late: ZZ's supplementary window of 5 working days is over
    ["ZZ-LATE", "", "5", "", "", "2026-10-31"],
    # 5: a label that the level does not have (B4)
    ["RA-2", "", "5", "工作人员服务态度生硬", "", TODAY],
    # 6: unknown case
    ["NOPE-1", "", "4", "", "", TODAY],
    # 7: duplicate of row 2 (C1)
    ["RA-1", "", "4", "", "", TODAY],
    # 8: bad review without a reason (B6)
    ["RA-3", "", "1", "", "", TODAY],
    # 9: a level that does not exist
    ["RA-3", "", "7", "", "", TODAY],
    # 10: a date in the future
    ["RA-3", "", "4", "", "", "2026-12-30"],
    # 11: a date that is no date
    ["RA-3", "", "4", "", "", "昨天"],
    # (blank line: skipped, numbers stay those of the sheet)
    ["", "", "", "", "", ""],
    # 13: good
    ["RA-3", "", "4", "", "挺好", TODAY],
]
EXPECTED_ERRORS = {
    4: "supplementary_window_closed",
    5: "label_invalid",
    6: "case_not_found",
    7: "already_evaluated",
    8: "bad_review_reason_required",
    9: "level_invalid",
    10: "paper_filled_on_future",
    11: "filled_on_invalid",
}


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[list[str]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["办件编号", "环节", "评价等级", "评价内容", "意见", "填写日期"])
    for row in rows:
        sheet.append([int(c) if c.isdigit() and len(c) == 1 else c for c in row])
    book.save(path)
    return path


def check_result(result: paper.ImportResult) -> None:
    assert {e.row: e.code for e in result.errors} == EXPECTED_ERRORS
    assert [(row, case) for row, case, _ in result.stored] == [
        (2, "RA-1"),
        (3, "ZZ-1"),
        (13, "RA-3"),
    ]
    messages = {e.row: e.message for e in result.errors}
    assert "5个工作日" in messages[4]
    assert "不适用于评价等级" in messages[5]


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_import_stores_good_rows_and_reports_every_bad_one(
    session: Session, tmp_path: Path, kind: str
) -> None:
    build(session)
    writer = write_csv if kind == "csv" else write_xlsx
    rows = paper.read_file(writer(tmp_path / f"forms.{kind}", ROWS))
    result = paper.import_rows(
        session=session, rows=rows, now=NOW, scope=Scope.all(), entered_by="test"
    )
    check_result(result)
    stored = {e.id: e for e in session.scalars(select(Evaluation).order_by(Evaluation.id)).all()}
    assert len(stored) == 3
    forms = session.scalars(select(PaperForm).order_by(PaperForm.id)).all()
    assert [f.case_no for f in forms] == ["RA-1", "ZZ-1", "RA-3"]
    first = stored[forms[0].evaluation_id]
    assert first.level == 2 and first.label_codes == ["attitude.3", "attitude.1"]
    assert first.text == "等了很久" and first.channel == int(Channel.hall_terminal)
    assert forms[1].filled_on.isoformat() == HANDLED and forms[1].source == "import"
    assert stored[forms[1].evaluation_id].supplementary  # typed in a day later (C8)


def test_file_layout_problems_are_refused_as_a_whole(tmp_path: Path) -> None:
    bad_header = tmp_path / "h.csv"
    bad_header.write_text("case,grade\nRA-1,5\n", encoding="utf-8")
    with pytest.raises(DomainError) as info:
        paper.read_file(bad_header)
    assert info.value.code == "paper_file_columns"
    other = tmp_path / "x.txt"
    other.write_text("x", encoding="utf-8")
    with pytest.raises(DomainError) as info:
        paper.read_file(other)
    assert info.value.code == "paper_file_unsupported"
    gbk = tmp_path / "g.csv"
    gbk.write_bytes("办件编号,评价等级,填写日期\n".encode("gbk"))
    with pytest.raises(DomainError) as info:
        paper.read_file(gbk)
    assert info.value.code == "paper_file_unreadable"


def test_printable_form_shows_levels_and_bad_labels(session: Session) -> None:
    build(session)
    sheet = paper.form_sheet(session=session, window_code="WZ", scope=Scope.all())
    assert [name for _, name, _ in sheet.levels] == [
        "非常满意",
        "满意",
        "基本满意",
        "不满意",
        "非常不满意",
    ]
    assert "工作人员服务态度生硬" in [label.name for label in sheet.bad_labels]
    with pytest.raises(DomainError) as info:
        paper.form_sheet(session=session, window_code="W1", scope=Scope.nothing())
    assert info.value.code == "window_not_found"


def test_cli_import_paper(
    committed_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HCP_DATABASE_URL", committed_db.engine.url.render_as_string(False))
    get_settings.cache_clear()
    try:
        with committed_db.transaction() as session:
            build(session)
        file = write_csv(tmp_path / "forms.csv", ROWS)
        report = tmp_path / "errors.csv"
        result = CliRunner().invoke(
            cli_app,
            ["import", "paper", str(file), "--now", NOW.isoformat(), "--report", str(report)],
        )
        assert result.exit_code == 1, result.output
        with report.open(encoding="utf-8-sig", newline="") as fh:
            lines = list(csv.DictReader(fh))
        assert {int(r["row"]): r["code"] for r in lines} == EXPECTED_ERRORS
        assert all(r["message"] for r in lines)
        assert "已保存 3 行" in result.output and "有误 8 行" in result.output
        for row, code in EXPECTED_ERRORS.items():
            assert re.search(rf"│\s+{row} │.*{code}", result.output), (row, code)
        with committed_db.transaction() as session:
            assert session.scalar(select(PaperForm.id).limit(1)) is not None
            assert len(session.scalars(select(Evaluation)).all()) == 3
        # Importing the same file again stores nothing twice (C1).
        again = CliRunner().invoke(
            cli_app, ["import", "paper", str(file), "--now", NOW.isoformat()]
        )
        assert again.exit_code == 1 and "已保存 0 行" in again.output
        good = write_csv(tmp_path / "good.csv", [["ZZ-LATE", "", "5", "", "", HANDLED]])
        late = CliRunner().invoke(cli_app, ["import", "paper", str(good)])
        assert late.exit_code == 1 and "supplementary_window_closed" in late.output
    finally:
        get_settings.cache_clear()


# ---- console --------------------------------------------------------------------------------


@dataclass
class Console:
    client: TestClient
    db: Database
    clerk: Official
    manager: Official
    other: Official
    supervisor: Official


@pytest.fixture
def console(committed_db: Database) -> Iterator[Console]:
    with committed_db.transaction() as session:
        build(session)
    world = Console(
        client=TestClient(
            create_app(committed_db, clock=lambda: NOW, tick_interval=0), follow_redirects=False
        ),
        db=committed_db,
        clerk=add_official(committed_db, "clerk_s1", "window_staff:S1", now=NOW),
        manager=add_official(committed_db, "mgr_z1", "org_manager:Z1", now=NOW),
        other=add_official(committed_db, "clerk_s3", "window_staff:S3", now=NOW),
        supervisor=add_official(committed_db, "sup", "supervisor:450224", now=NOW),
    )
    with world.client:
        yield world


def cookie(official: Official) -> dict[str, str]:
    return {"Cookie": official.headers()["Cookie"]}


def enter(world: Console, official: Official, **fields: str) -> httpx.Response:
    data = {"csrf_token": official.csrf, "filled_on": TODAY, **fields}
    return world.client.post("/console/paper/entry", data=data, headers=cookie(official))


def test_console_entry_by_the_window_clerk(console: Console) -> None:
    c = console.client
    home = c.get("/console/paper/", headers=cookie(console.clerk))
    assert home.status_code == 200 and "W1号窗口" in home.text and "W2号窗口" not in home.text
    form = c.get("/console/paper/form/W1", headers=cookie(console.clerk))
    assert form.status_code == 200
    for shown in ("办件编号", "□ 非常满意", "□ 非常不满意", "工作人员服务态度生硬", "签名"):
        assert shown in form.text
    entry = c.get("/console/paper/entry", headers=cookie(console.clerk))
    assert entry.status_code == 200 and console.clerk.csrf in entry.text
    r = enter(console, console.clerk, case_no="RA-1", level="2", labels="attitude.3")
    assert r.status_code == 303 and "done=RA-1" in r.headers["location"]
    again = enter(console, console.clerk, case_no="RA-1", level="5")
    assert again.status_code == 409 and "already_evaluated" in again.text
    bad = enter(console, console.clerk, case_no="RA-2", level="1")
    assert bad.status_code == 422
    assert "bad_review_reason_required" in bad.text
    assert 'value="RA-2"' in bad.text  # the input is kept
    with console.db.transaction() as session:
        form_row = session.scalars(select(PaperForm)).one()
        assert form_row.source == "console" and form_row.entered_by == "user:clerk_s1"


def test_console_entry_scope_csrf_and_roles(console: Console) -> None:
    # A clerk of another window cannot type in a form of W1's cases.
    r = enter(console, console.other, case_no="RA-1", level="5")
    assert r.status_code == 404 and "case_not_found" in r.text
    # The organisation manager of Z1: ZZ's case inside the 5 working days, the late one refused.
    ok = enter(console, console.manager, case_no="ZZ-1", level="5", filled_on=HANDLED)
    assert ok.status_code == 303
    late = enter(console, console.manager, case_no="ZZ-LATE", level="5", filled_on="2026-10-31")
    assert late.status_code == 422
    assert "supplementary_window_closed" in late.text
    # Without the session's CSRF token: refused.
    r = console.client.post(
        "/console/paper/entry",
        data={"csrf_token": "forged", "case_no": "RA-2", "level": "5", "filled_on": TODAY},
        headers=cookie(console.clerk),
    )
    assert r.status_code == 403
    # A supervisor is not a window: the paper pages are refused.
    r = console.client.get("/console/paper/entry", headers=cookie(console.supervisor))
    assert r.status_code == 403
    # No session: to the login page.
    assert console.client.get("/console/paper/").status_code == 303
    # Odd input: clear refusals, never 500.
    for fields in (
        {"case_no": "", "level": "5"},
        {"case_no": "RA-2", "level": "x"},
        {"case_no": "RA-2", "level": "5", "filled_on": "2026-02-30"},
        {"case_no": "RA-2", "level": "5", "stage": "nonsense"},
        {"case_no": "RA-2", "level": "5", "text": "坏\x00字"},
        {"case_no": "RA\x002", "level": "5"},
        {"case_no": "RA-2", "level": "5", "labels": "态度\x00差"},
    ):
        r = enter(console, console.clerk, **fields)
        assert 400 <= r.status_code < 500, fields
    with console.db.transaction() as session:
        assert [f.case_no for f in session.scalars(select(PaperForm))] == ["ZZ-1"]
    unknown = console.client.get("/console/paper/form/NOPE", headers=cookie(console.clerk))
    assert unknown.status_code == 404


def test_a_form_dated_before_the_handling_day_is_refused(session: Session) -> None:
    build(session)
    entry = paper.PaperEntry(case_no="RA-1", level=5, filled_on=datetime(2026, 11, 1).date())
    with pytest.raises(DomainError) as info:
        paper.enter_form(
            session=session, entry=entry, now=NOW, scope=Scope.all(), entered_by="t", source="t"
        )
    assert info.value.code == "paper_filled_before_service"
