"""综合点评 pages (D2, D3, G1, C9): the citizens' form, receipt, status and published list under
/public (no login, no cookie, contacts never shown), and the console pages with CSRF and scope."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from haochaping.app import create_app
from haochaping.db import Database
from haochaping.remarks.models import Remark
from tests.api_clients import add_official
from tests.factories import make_catalog
from tests.remarks.helpers import EMAIL, NAME, NOW, PHONE, RA, ZZ


@dataclass
class Site:
    client: TestClient
    db: Database


@pytest.fixture
def site(committed_db: Database) -> Iterator[Site]:
    with committed_db.transaction() as session:
        make_catalog(session)
    app = create_app(committed_db, clock=lambda: NOW, tick_interval=0)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield Site(client, committed_db)


FORM = {
    "region": ZZ,
    "org": "Z1",
    "category": "suggestion",
    "text": f"建议延长周末办理时间，联系我{PHONE}",
    "name": NAME,
    "phone": PHONE,
    "email": EMAIL,
    "consent": "1",
}


def _receipt(site: Site, **changes: str) -> tuple[str, str]:
    r = site.client.post("/public/remarks/new", data={**FORM, **changes})
    assert r.status_code == 200, r.text
    no = re.search(r'id="receipt-no">([^<]+)<', r.text)
    code = re.search(r'id="receipt-code">([^<]+)<', r.text)
    assert no and code
    return no.group(1), code.group(1)


def test_D2_public_form_is_cacheable_and_sets_no_cookie(site: Site) -> None:
    r = site.client.get("/public/remarks/new")
    assert r.status_code == 200
    assert "set-cookie" not in r.headers and r.headers["cache-control"].startswith("public")
    assert "联系方式依法保密" in r.text and 'value="370400"' in r.text and "<script" not in r.text
    index = site.client.get("/public/")
    assert 'href="/public/remarks/new"' in index.text


def test_C9_contact_needs_consent_and_the_form_keeps_what_was_typed(site: Site) -> None:
    r = site.client.post("/public/remarks/new", data={**FORM, "consent": ""})
    assert r.status_code == 422 and "请勾选同意" in r.text
    assert "建议延长周末办理时间" in r.text
    bad = site.client.post("/public/remarks/new", data={**FORM, "phone": "abc"})
    assert bad.status_code == 422 and "格式不正确" in bad.text
    outside = site.client.post("/public/remarks/new", data={**FORM, "org": "O1"})
    assert outside.status_code == 422 and "所选部门不属于所选地区" in outside.text
    with site.db.transaction() as session:
        assert session.scalar(select(Remark.id)) is None
    # Without any contact no consent is needed.
    _receipt(site, name="", phone="", email="", consent="")


def test_D2_receipt_then_status_with_the_private_code(site: Site) -> None:
    r = site.client.post("/public/remarks/new", data=FORM)
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers
    no, code = _receipt(site)
    ok = site.client.post("/public/remarks/query", data={"remark_no": no, "code": code})
    assert ok.status_code == 200 and ok.headers["cache-control"] == "no-store"
    assert "已受理，待分办" in ok.text and PHONE not in ok.text and NAME not in ok.text
    wrong = site.client.post("/public/remarks/query", data={"remark_no": no, "code": "AAAAAAAA"})
    assert wrong.status_code == 404 and "受理编号或查询码不正确" in wrong.text


def test_G1_C9_published_list_shows_approved_text_and_answer_only(site: Site) -> None:
    no, _ = _receipt(site)
    _receipt(site, region=RA, org="O1", text="融安县的建议")
    sup = add_official(site.db, "sup-zz", f"supervisor:{ZZ}", now=NOW)
    c, h = site.client, sup.headers()
    for path, data in (
        ("route", {"org": "Z1", "category": "suggestion", "topic": "process"}),
        ("answer", {"text": "自下月起周六上午开放办理。"}),
        ("publish", {"text": f"建议延长周末办理时间，联系我{'*' * 11}"}),
    ):
        r = c.post(
            f"/console/remarks/{no}/{path}", data={**data, "csrf_token": sup.csrf}, headers=h
        )
        assert r.status_code == 303, (path, r.text)
    page = c.get("/public/remarks")
    assert page.status_code == 200 and "自下月起周六上午开放办理" in page.text
    assert "建议延长周末办理时间" in page.text and "融安县的建议" not in page.text
    for secret in (PHONE, EMAIL, NAME):
        assert secret not in page.text


def test_public_submissions_are_rate_limited(site: Site) -> None:
    codes = [
        site.client.post("/public/remarks/new", data={**FORM, "consent": ""}).status_code
        for _ in range(11)
    ]
    assert codes[:10] == [422] * 10 and codes[10] == 429


def test_console_flow_csrf_scope_and_export(site: Site) -> None:
    no, _ = _receipt(site)
    sup = add_official(site.db, "sup-zz", f"supervisor:{ZZ}", now=NOW)
    org = add_official(site.db, "org-z1", "org_manager:Z1", now=NOW)
    other = add_official(site.db, "sup-ra", f"supervisor:{RA}", now=NOW)
    clerk = add_official(site.db, "clerk", "window_staff:S1", now=NOW)
    c = site.client
    home = c.get("/console/", headers=sup.headers())
    assert 'href="/console/remarks/"' in home.text
    listing = c.get("/console/remarks/?status=received&sort=due_asc", headers=sup.headers())
    assert listing.status_code == 200 and no in listing.text and PHONE not in listing.text
    detail = c.get(f"/console/remarks/{no}", headers=sup.headers())
    # C9: the contact is masked; the text is shown as the citizen wrote it (staff read it).
    assert "139****5678" in detail.text and "z***@example.com" in detail.text
    assert EMAIL not in detail.text and NAME not in detail.text
    assert c.get(f"/console/remarks/{no}", headers=other.headers()).status_code == 404
    assert c.get("/console/remarks/", headers=clerk.headers()).status_code == 403
    assert no not in c.get("/console/remarks/", headers=other.headers()).text
    # A form without the session's CSRF token changes nothing.
    route = {"org": "Z1", "category": "suggestion"}
    r = c.post(f"/console/remarks/{no}/route", data=route, headers=sup.headers())
    assert r.status_code == 403
    # The organisation cannot route; the office can.
    r = c.post(
        f"/console/remarks/{no}/route",
        data={**route, "csrf_token": org.csrf},
        headers=org.headers(),
    )
    assert r.status_code == 403
    r = c.post(
        f"/console/remarks/{no}/route",
        data={**route, "csrf_token": sup.csrf},
        headers=sup.headers(),
    )
    assert r.status_code == 303
    r = c.post(
        f"/console/remarks/{no}/answer",
        data={"text": "已研究", "csrf_token": org.csrf},
        headers=org.headers(),
    )
    assert r.status_code == 303
    # A refused step shows the page again with the reason.
    r = c.post(
        f"/console/remarks/{no}/publish",
        data={"text": "完全改写的内容", "csrf_token": sup.csrf},
        headers=sup.headers(),
    )
    assert r.status_code == 422 and "不能增加或改写文字" in r.text
    export = c.get("/console/remarks/export.xlsx?status=answered", headers=sup.headers())
    assert export.status_code == 200
    rows = list(load_workbook(io.BytesIO(export.content)).active.iter_rows(values_only=True))  # type: ignore[union-attr]
    assert len(rows) == 2 and PHONE not in " ".join(str(v) for v in rows[1] if v)
    overdue = c.get("/console/remarks/?overdue=1", headers=sup.headers())
    assert no not in overdue.text
    bad = c.get("/console/remarks/?status=nonsense", headers=sup.headers())
    assert bad.status_code == 422


def test_console_types_in_a_suggestion_box_remark(site: Site) -> None:
    sup = add_official(site.db, "sup-zz", f"supervisor:{ZZ}", now=NOW)
    org = add_official(site.db, "org-z1", "org_manager:Z1", now=NOW)
    c = site.client
    assert c.get("/console/remarks/new", headers=org.headers()).status_code == 403
    form = c.get("/console/remarks/new", headers=sup.headers())
    assert (
        form.status_code == 200
        and 'value="370400"' in form.text
        and 'value="450224"' not in form.text
    )
    r = c.post(
        "/console/remarks/new",
        data={"source": "book", "region": ZZ, "text": "感谢窗口热情服务", "csrf_token": sup.csrf},
        headers=sup.headers(),
    )
    assert r.status_code == 303
    with site.db.transaction() as session:
        remark = session.scalars(select(Remark)).one()
        assert (remark.source, remark.category, remark.entered_by) == (
            "book",
            "praise",
            "user:sup-zz",
        )
    outside = c.post(
        "/console/remarks/new",
        data={"source": "box", "region": RA, "text": "内容", "csrf_token": sup.csrf},
        headers=sup.headers(),
    )
    assert outside.status_code == 403


def test_C9_console_reveals_a_contact_with_a_reason_and_records_it(site: Site) -> None:
    """The office may see a contact in clear to call the citizen back only with ``pii:unmask``
    over the remark and a reason; the reveal is in the audit log, never the number."""
    from haochaping.audit.models import AuditEntry

    no, _ = _receipt(site, text="建议延长周末办理时间")
    sup = add_official(site.db, "sup-only", f"supervisor:{ZZ}", now=NOW)
    viewer = add_official(site.db, "sup-pii", f"supervisor:{ZZ}", f"pii_viewer:{ZZ}", now=NOW)
    far = add_official(site.db, "sup-pii-ra", f"supervisor:{ZZ}", f"pii_viewer:{RA}", now=NOW)
    c = site.client
    page = c.get(f"/console/remarks/{no}", headers=viewer.headers())
    assert "查看完整联系方式" in page.text and PHONE not in page.text
    assert "查看完整联系方式" not in c.get(f"/console/remarks/{no}", headers=sup.headers()).text
    path = f"/console/remarks/{no}/contact"
    refused = c.post(path, data={"reason": "回复", "csrf_token": sup.csrf}, headers=sup.headers())
    assert refused.status_code == 403 and PHONE not in refused.text
    # Unmask rights over another region do not reach this remark.
    elsewhere = c.post(path, data={"reason": "回复", "csrf_token": far.csrf}, headers=far.headers())
    assert elsewhere.status_code == 404 and PHONE not in elsewhere.text
    no_reason = c.post(path, data={"csrf_token": viewer.csrf}, headers=viewer.headers())
    assert no_reason.status_code == 422 and PHONE not in no_reason.text
    shown = c.post(
        path, data={"reason": "电话回复留言人", "csrf_token": viewer.csrf}, headers=viewer.headers()
    )
    assert shown.status_code == 200 and PHONE in shown.text and EMAIL in shown.text
    with site.db.transaction() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "pii_unmasked")
        ).all()
        assert [e.actor for e in entries] == ["user:sup-pii"]
        assert PHONE not in str(entries[0].details)
