"""F1-F5 through the console: the inbox of bad-review work orders, the order's page with the
forms of the steps the official takes, evidence uploads and complaint intake (RA 附件2,
HB Art.14); the rater masked (C9) and hidden from the rated window's clerk (C10)."""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from haochaping.app import create_app
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.privacy import mask_name, mask_phone
from haochaping.workorders.models import WorkOrder, WorkOrderAttachment
from haochaping.workorders.pages import due_time, time_left
from haochaping.workorders.pages import router as workorder_pages
from tests.api_clients import Official, add_official
from tests.factories import make_catalog
from tests.workorders.helpers import bad_review, beijing

BASE = "/console/workorders"
# Tuesday 2026-11-10: the bad review at 10:00, the officials at work at 11:00 (Beijing time).
RATED = beijing(2026, 11, 10, 10, 0)
NOW = beijing(2026, 11, 10, 11, 0)
MASKED_NAME = mask_name("张三丰")
MASKED_PHONE = mask_phone("13812348000")


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def _app(db: Database, clock: Clock) -> FastAPI:
    app = create_app(db=db, clock=clock, tick_interval=0)
    if not any(getattr(r, "path", "") == BASE for r in app.routes):
        app.include_router(workorder_pages)
    return app


@pytest.fixture
def client(committed_db: Database) -> Iterator[TestClient]:
    get_settings.cache_clear()
    with (
        TestClient(
            _app(committed_db, Clock()), base_url="https://testserver", follow_redirects=False
        ) as c,
    ):
        yield c


# name -> username and grants of the officials a test may ask for.
CAST: dict[str, tuple[str, tuple[str, ...]]] = {
    "office": ("zgb-ra", ("supervisor:450224",)),
    "clerk": ("ck-s1", ("window_staff:S1",)),
    "head": ("jg-o1", ("org_manager:O1",)),
    "leader": ("ld-ra", ("leader:450224",)),
    "city": ("zgb-lz", ("supervisor:450200",)),
    "auditor": ("sj-gx", ("auditor:450000",)),
    "admin": ("admin1", ("admin",)),
    "pii": ("pii-gx", ("pii_viewer:450000",)),
}


class World:
    """The RA catalogue, one bad review of clerk S1 (window W1, 融安县公安局) and the officials
    of ``CAST``, each logged in when first asked for (password hashing is slow)."""

    def __init__(self, db: Database, order_no: str) -> None:
        self.db = db
        self.no = order_no
        self._people: dict[str, Official] = {}

    def __getitem__(self, name: str) -> Official:
        if name not in self._people:
            username, grants = CAST[name]
            self._people[name] = add_official(self.db, username, *grants, now=NOW)
        return self._people[name]


@pytest.fixture
def world(committed_db: Database) -> World:
    with committed_db.transaction() as session:
        make_catalog(session)
        order_no = bad_review(session, "RA-1", RATED).order_no
    return World(committed_db, order_no)


def _get(client: TestClient, who: Official, url: str) -> httpx.Response:
    response: httpx.Response = client.get(url, headers=who.headers())
    return response


def _version(html: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', html)
    assert found, html
    return found.group(1)


def _act(
    client: TestClient, who: Official, order_no: str, action: str, **fields: str
) -> httpx.Response:
    """Post the step's form as the page gives it (the version the page shows)."""
    if "version" not in fields:
        fields["version"] = _version(_get(client, who, f"{BASE}/{order_no}").text)
    response: httpx.Response = client.post(
        f"{BASE}/{order_no}/act",
        data={"csrf_token": who.csrf, "action": action, **fields},
        headers=who.headers(),
    )
    return response


def _order(db: Database, order_no: str) -> WorkOrder:
    with db.transaction() as session:
        order = session.scalar(select(WorkOrder).where(WorkOrder.order_no == order_no))
        assert order is not None
        session.expunge(order)
        return order


def _rows(html: str) -> list[str]:
    """The order numbers of the inbox's table, top to bottom."""
    return re.findall(r'<td><a href="/console/workorders/([A-Z0-9-]+)">', html)


def _png() -> bytes:
    """A real 1x1 PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


# --- the inbox ---------------------------------------------------------------------------------


def test_F1_office_inbox_lists_the_new_order_with_time_left(
    client: TestClient, world: World
) -> None:
    page = _get(client, world["office"], BASE)
    assert page.status_code == 200
    assert "script-src 'none'" in page.headers["Content-Security-Policy"]
    html = page.text
    assert _rows(html) == [world.no]
    assert "待转办" in html and "剩余" in html
    # Beijing time: received at 10:00 on 2026-11-10.
    assert "2026-11-10 10:00" in html
    # RA 附件3: registered and transferred the same day.
    assert "2026-11-10 24:00" in html
    assert "<caption>" in html and 'scope="col"' in html
    # First visit: only the orders waiting for the official (the office transfers).
    assert 'id="f-mine" name="mine" value="1" checked' in html
    assert "登记投诉" in html
    assert 'class="order-row overdue"' not in html


def test_F4_clerk_mine_lists_the_order_once_it_is_the_windows_step(
    client: TestClient, world: World
) -> None:
    clerk, office, no = world["clerk"], world["office"], world.no
    first = _get(client, clerk, BASE).text
    assert _rows(first) == []
    assert "登记投诉" not in first
    # In scope all the same: shown without "只看待我办理".
    assert _rows(_get(client, clerk, f"{BASE}?f=1").text) == [no]

    assert _act(client, office, no, "transfer").status_code == 303
    assert _rows(_get(client, clerk, BASE).text) == []
    response = _act(
        client, office, no, "verify", verdict="true", cause="attitude", note="电话回访，情况属实"
    )
    assert response.status_code == 303
    mine = _get(client, clerk, BASE).text
    assert _rows(mine) == [no]
    assert "整改中" in mine


def test_F5_filters_and_sorting_change_the_list(
    client: TestClient, world: World, committed_db: Database
) -> None:
    office, no = world["office"], world.no
    with committed_db.transaction() as session:
        # Rated the day before: its same-day registration is past its deadline.
        old_no = bad_review(session, "RA-0", beijing(2026, 11, 9, 10, 0)).order_no
    html = _get(client, office, f"{BASE}?f=1").text
    assert set(_rows(html)) == {no, old_no}
    # Newest first by default.
    assert _rows(html) == [no, old_no]

    overdue = _get(client, office, f"{BASE}?f=1&timing=overdue").text
    assert _rows(overdue) == [old_no]
    assert 'class="order-row overdue"' in overdue
    assert "超期" in overdue and "已超期" in overdue

    assert _act(client, office, no, "transfer").status_code == 303
    verifying = _get(client, office, f"{BASE}?f=1&state=verifying").text
    assert _rows(verifying) == [no]
    both = _get(client, office, f"{BASE}?f=1&state=verifying&state=registered").text
    assert set(_rows(both)) == {no, old_no}
    assert _rows(_get(client, office, f"{BASE}?f=1&q=RA-0").text) == [old_no]
    assert _rows(_get(client, office, f"{BASE}?f=1&from=2026-11-10&to=2026-11-10").text) == [no]
    assert _rows(_get(client, office, f"{BASE}?f=1&source=onsite").text) == []

    ascending = _rows(_get(client, office, f"{BASE}?f=1&sort=received&order=asc").text)
    assert ascending == [old_no, no]
    by_no = _rows(_get(client, office, f"{BASE}?f=1&sort=no&order=asc").text)
    assert by_no == sorted(by_no)
    assert _rows(_get(client, office, f"{BASE}?f=1&sort=no&order=desc").text) == by_no[::-1]
    # The column header flips the direction of the current sort and keeps the filters.
    sorted_page = _get(client, office, f"{BASE}?f=1&sort=received&order=asc&state=verifying").text
    assert 'aria-sort="ascending"' in sorted_page
    link = re.search(r'<a href="([^"]*sort=received[^"]*)">受理时间', sorted_page)
    assert link is not None
    assert "order=desc" in link.group(1) and "state=verifying" in link.group(1)

    refused = _get(client, office, f"{BASE}?state=nonsense")
    assert refused.status_code == 422 and "工单状态不正确" in refused.text


def test_F5_inbox_pages_by_twenty(client: TestClient, world: World, committed_db: Database) -> None:
    with committed_db.transaction() as session:
        for i in range(20):
            bad_review(session, f"RA-P{i:02d}", beijing(2026, 11, 10, 9, i))
    office = world["office"]
    first = _get(client, office, f"{BASE}?f=1").text
    assert len(_rows(first)) == 20
    assert "共 21 件" in first and "下一页" in first and "上一页" not in first
    second = _get(client, office, f"{BASE}?f=1&page=2").text
    assert len(_rows(second)) == 1
    assert "上一页" in second and "下一页" not in second
    assert set(_rows(first)).isdisjoint(_rows(second))


# --- the order's page ----------------------------------------------------------------------


def test_F1_order_page_shows_only_the_viewers_steps(client: TestClient, world: World) -> None:
    no = world.no
    office = _get(client, world["office"], f"{BASE}/{no}")
    assert office.status_code == 200
    html = office.text
    for text in ("办件信息", "评价信息", "时限", "办理记录", "生成差评工单", "可办理操作"):
        assert text in html
    assert "RA-1" in html and "融安县公安局" in html and "工作人员S1" in html
    assert "窗口态度生硬" in html
    assert f'action="{BASE}/{no}/act"' in html
    assert "登记并转办" in html
    assert f"/api/v1/work-orders/{no}/documents/transfer.docx" in html
    assert f"/api/v1/work-orders/{no}/documents/report.docx" in html
    assert 'name="csrf_token"' in html and 'name="version" value="1"' in html
    assert "上传佐证材料" in html

    clerk = _get(client, world["clerk"], f"{BASE}/{no}").text
    assert f'action="{BASE}/{no}/act"' not in clerk
    assert "当前环节不由您办理" in clerk
    # The clerk is a party of the order (the window): evidence may be added.
    assert "上传佐证材料" in clerk


def test_F1_transfer_then_verify_through_the_forms(
    client: TestClient, world: World, committed_db: Database
) -> None:
    office, no = world["office"], world.no
    response = _act(client, office, no, "transfer")
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}/{no}?done=1"
    page = _get(client, office, response.headers["location"]).text
    assert "已办理" in page and "待回访核实" in page
    # The verification form: each field with its visible label.
    for field_id in ("verify-verdict", "verify-cause", "verify-note"):
        assert f'<label for="{field_id}">' in page and f'id="{field_id}"' in page

    response = _act(
        client, office, no, "verify", verdict="true", cause="attitude", note="电话回访，情况属实"
    )
    assert response.status_code == 303
    api = client.get(f"/api/v1/work-orders/{no}", headers=office.headers())
    assert api.status_code == 200
    out = api.json()
    assert (out["state"], out["verdict"], out["cause"], out["deduction_points"]) == (
        "rectifying",
        "true",
        "attitude",
        2.0,
    )
    assert out["version"] == 3
    page = _get(client, office, f"{BASE}/{no}").text
    assert "属实" in page and "服务态度" in page and "电话回访，情况属实" in page
    assert "zgb-ra" in page and "政务服务管理办公室" in page

    # Now the clerk's step: the report form with its three fields.
    clerk = _get(client, world["clerk"], f"{BASE}/{no}").text
    assert "提交调查整改报告" in clerk
    for field_id in (
        "submit_report-measures",
        "submit_report-responsible_person",
        "submit_report-report_text",
    ):
        assert f'<label for="{field_id}">' in clerk


def test_F1_missing_field_is_refused_on_the_page_and_changes_nothing(
    client: TestClient, world: World, committed_db: Database
) -> None:
    office, no = world["office"], world.no
    assert _act(client, office, no, "transfer").status_code == 303
    before = _order(committed_db, no)
    response = _act(client, office, no, "verify", verdict="true", cause="attitude")
    assert response.status_code == 422
    # Named as the form's label names it.
    assert "请填写回访核实情况说明" in response.text
    assert 'role="alert"' in response.text
    # The page again, the form keeping what was chosen.
    assert '<option value="attitude" selected>' in response.text
    after = _order(committed_db, no)
    assert (after.state, after.version, after.verdict) == (before.state, before.version, None)

    too_long = _act(client, office, no, "verify", verdict="bogus", note="x")
    assert too_long.status_code == 422 and "请重新选择核实结论" in too_long.text
    assert _order(committed_db, no).version == before.version


def test_F1_stale_page_and_wrong_party_are_refused(
    client: TestClient, world: World, committed_db: Database
) -> None:
    office, no = world["office"], world.no
    assert _act(client, office, no, "transfer", version="1").status_code == 303
    stale = _act(
        client, office, no, "verify", version="1", verdict="true", cause="attitude", note="核实"
    )
    assert stale.status_code == 409
    assert "该工单已被他人处理，请刷新页面后重试" in stale.text
    assert _order(committed_db, no).state == "verifying"

    # Not the clerk's step (the office verifies under RA): refused with the reason.
    clerk = _act(client, world["clerk"], no, "verify", version="2", verdict="true", note="核实")
    assert clerk.status_code == 403
    assert "此环节应由政务服务管理办公室办理" in clerk.text
    # An action the state does not allow.
    again = _act(client, office, no, "transfer")
    assert again.status_code == 409 and "不能执行" in again.text
    # A form without the session's token.
    forged = client.post(
        f"{BASE}/{no}/act",
        data={"action": "verify", "version": "2", "verdict": "true", "note": "x"},
        headers=office.headers(),
    )
    assert forged.status_code == 403 and "页面已过期" in forged.text
    assert _order(committed_db, no).version == 2


def test_F1_appeal_forms_carry_the_decision_radios(
    client: TestClient, world: World, committed_db: Database
) -> None:
    """RA Art.9: a review found mistaken goes to appeal; the office's check is a yes/no with
    a cause needed when the appeal is refused."""
    office, clerk, no = world["office"], world["clerk"], world.no
    assert _act(client, office, no, "transfer").status_code == 303
    mistaken = _act(client, office, no, "verify", verdict="mistaken", note="评价人误操作")
    assert mistaken.status_code == 303
    page = _get(client, clerk, f"{BASE}/{no}").text
    assert "提交申诉撤销材料" in page and "不申诉，转入整改" in page
    assert _act(client, clerk, no, "file_appeal", note="评价人确认误评").status_code == 303

    check = _get(client, office, f"{BASE}/{no}").text
    assert "核查申诉" in check
    assert '<label for="check_appeal-approved-yes">同意</label>' in check
    assert '<label for="check_appeal-approved-no">不同意</label>' in check
    refused = _act(client, office, no, "check_appeal", approved="false", note="材料不足")
    assert refused.status_code == 422
    assert "请填写差评原因分类" in refused.text
    assert 'id="check_appeal-approved-no" name="approved" value="false" checked' in refused.text
    assert _order(committed_db, no).state == "appeal_check"
    response = _act(
        client, office, no, "check_appeal", approved="false", note="材料不足", cause="quality"
    )
    assert response.status_code == 303
    order = _order(committed_db, no)
    assert (order.state, order.verdict, order.cause) == ("rectifying", "true", "quality")
    assert "审核意见：不同意" in _get(client, office, f"{BASE}/{no}").text


def test_C9_C10_rater_masked_for_the_office_hidden_from_the_clerk(
    client: TestClient, world: World
) -> None:
    no = world.no
    office = _get(client, world["office"], f"{BASE}/{no}").text
    assert MASKED_NAME is not None and MASKED_PHONE is not None
    assert MASKED_NAME in office and MASKED_PHONE in office
    assert "张三丰" not in office and "13812348000" not in office
    clerk = _get(client, world["clerk"], f"{BASE}/{no}").text
    assert MASKED_NAME not in clerk and MASKED_PHONE not in clerk
    assert "评价人信息已遮盖" not in clerk and "13812348000" not in clerk


def test_pages_need_the_work_order_permission(client: TestClient, world: World) -> None:
    no = world.no
    for url in (BASE, f"{BASE}/{no}"):
        refused = _get(client, world["pii"], url)
        assert refused.status_code == 403
        assert "您没有查看差评工单的权限" in refused.text
    anonymous = client.get(BASE)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/console/login"
    # Outside the official's scope: answered as absent.
    with_other = _get(client, world["clerk"], f"{BASE}/CP20260101-99999999")
    assert with_other.status_code == 404 and "未找到该工单" in with_other.text


def test_pages_render_for_every_role(client: TestClient, world: World) -> None:
    no = world.no
    for name in ("office", "clerk", "head", "leader", "city", "auditor", "admin"):
        who = world[name]
        assert _get(client, who, BASE).status_code == 200, name
        page = _get(client, who, f"{BASE}/{no}")
        assert page.status_code == 200, name
        assert "办理记录" in page.text


# --- evidence ------------------------------------------------------------------------------


def test_F1_upload_a_photo_and_refuse_a_text_file(
    client: TestClient, world: World, committed_db: Database
) -> None:
    office, no = world["office"], world.no
    png = _png()
    response = client.post(
        f"{BASE}/{no}/attachments",
        data={"csrf_token": office.csrf, "note": "窗口现场照片"},
        files={"file": ("现场.png", png, "image/png")},
        headers=office.headers(),
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}/{no}?uploaded=1"
    with committed_db.transaction() as session:
        attachment_id = session.scalar(select(WorkOrderAttachment.id))
    page = _get(client, office, response.headers["location"]).text
    assert "佐证材料已上传" in page and "窗口现场照片" in page and "上传佐证材料" in page
    link = f"/api/v1/work-orders/{no}/attachments/{attachment_id}"
    assert f'href="{link}">现场.png</a>' in page
    download = client.get(link, headers=office.headers())
    assert download.status_code == 200 and download.content == png

    refused = client.post(
        f"{BASE}/{no}/attachments",
        data={"csrf_token": office.csrf, "note": "说明"},
        files={"file": ("说明.png", b"just some text, not an image\n", "image/png")},
        headers=office.headers(),
    )
    assert refused.status_code == 422
    assert "只能上传照片（JPG、PNG）" in refused.text
    with committed_db.transaction() as session:
        assert len(session.scalars(select(WorkOrderAttachment)).all()) == 1

    # Nobody of the order (an auditor reads only): no form, and the post is refused.
    auditor = world["auditor"]
    assert "upload-file" not in _get(client, auditor, f"{BASE}/{no}").text
    denied = client.post(
        f"{BASE}/{no}/attachments",
        data={"csrf_token": auditor.csrf},
        files={"file": ("a.png", png, "image/png")},
        headers=auditor.headers(),
    )
    assert denied.status_code == 403


# --- complaints ----------------------------------------------------------------------------


def test_F4_complaint_form_creates_an_order(
    client: TestClient, world: World, committed_db: Database
) -> None:
    office = world["office"]
    form = _get(client, office, f"{BASE}/complaints/new")
    assert form.status_code == 200
    assert "现场投诉" in form.text and "12345热线转办" in form.text
    assert '<label for="c-org">' in form.text

    fields = {
        "csrf_token": office.csrf,
        "source": "onsite",
        "org_code": "O1",
        "window_code": "W1",
        "staff_code": "S1",
        "complainant_name": "李四光",
        "complainant_phone": "13900001111",
        "text": "窗口工作人员推诿，\r\n让我跑了三次。",
    }
    missing = client.post(
        f"{BASE}/complaints/new",
        data={**fields, "org_code": ""},
        headers=office.headers(),
    )
    assert missing.status_code == 422
    assert "请填写办件编号或责任机构编码" in missing.text
    assert "13900001111" in missing.text  # the form keeps what was typed
    unknown = client.post(
        f"{BASE}/complaints/new", data={**fields, "org_code": "NOPE"}, headers=office.headers()
    )
    assert unknown.status_code == 404 and "未找到该责任机构" in unknown.text

    response = client.post(f"{BASE}/complaints/new", data=fields, headers=office.headers())
    assert response.status_code == 303
    location = response.headers["location"]
    found = re.fullmatch(rf"{BASE}/(TS\d{{8}}-\d+)\?registered=1", location)
    assert found, location
    order = _order(committed_db, found.group(1))
    assert (order.source, order.state, order.complaint_text) == (
        "onsite",
        "registered",
        "窗口工作人员推诿，\n让我跑了三次。",
    )
    page = _get(client, office, location).text
    assert "投诉已登记" in page and "现场投诉差评件" in page and "待转办" in page
    assert str(mask_phone("13900001111")) in page and "13900001111" not in page
    assert "登记并转办" in page

    # The clerk cannot register complaints.
    assert _get(client, world["clerk"], f"{BASE}/complaints/new").status_code == 403


def test_time_left_in_words() -> None:
    assert time_left(3 * 3600 + 59) == "剩余 3 小时"
    assert time_left(-2 * 86400) == "已超期 2 天"
    assert time_left(86400 + 7200) == "剩余 1 天 2 小时"
    assert time_left(125) == "剩余 2 分钟"
    assert time_left(None) == ""
    # A same-day deadline ends at midnight: shown as the day's 24:00, Beijing time.
    assert due_time(beijing(2026, 11, 11, 0, 0)) == "2026-11-10 24:00"
    assert due_time(beijing(2026, 11, 11, 9, 30)) == "2026-11-11 09:30"
