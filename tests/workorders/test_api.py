"""The work-order API (F1-F5): a bad review from a business system opens an order, the 12345
platform transfers complaints, officials take steps, attach evidence and download the RA
documents; every refusal is a stable code with a Chinese message, never a 500."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from docx import Document
from fastapi.testclient import TestClient

from haochaping.app import create_app
from haochaping.db import Database
from tests.api_clients import add_business_client, add_official, sign_as
from tests.factories import T0, make_catalog

NOW = T0 + timedelta(hours=1)
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@dataclass
class Api:
    system: TestClient
    http: TestClient
    office: dict[str, str]
    clerk: dict[str, str]
    order_no: str


@pytest.fixture
def api(committed_db: Database) -> Iterator[Api]:
    with committed_db.transaction() as session:
        make_catalog(session)
    issued = add_business_client(committed_db, now=NOW)
    office = add_official(committed_db, "zgb-ra", "supervisor:450224", now=NOW).headers()
    clerk = add_official(committed_db, "ck-s1", "window_staff:S1", now=NOW).headers()
    app = create_app(committed_db, clock=lambda: NOW, tick_interval=0)
    with (
        TestClient(app, raise_server_exceptions=False) as system,
        TestClient(app, raise_server_exceptions=False) as http,
    ):
        sign_as(system, issued, lambda: NOW)
        r = system.post(
            "/api/v1/cases",
            json={
                "case_no": "API-1",
                "item_code": "I-IMM",
                "handling": "window",
                "staff_code": "S1",
                "window_code": "W1",
                "applicant": {
                    "type": "person",
                    "name": "李四光",
                    "id_type": "身份证",
                    "id_no": "450224199001011234",
                    "phone": "13812348000",
                },
                "accepted_at": T0.isoformat(),
                "completed_at": T0.isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        r = system.post(
            "/api/v1/evaluations",
            json={
                "case_no": "API-1",
                "level": 1,
                "channel": 4,
                "label_codes": ["attitude.3"],
                "text": "态度生硬",
            },
        )
        assert r.status_code == 201, r.text
        r = http.get("/api/v1/work-orders?mine=true", headers=office)
        assert r.status_code == 200 and r.json()["total"] == 1, r.text
        yield Api(system, http, office, clerk, r.json()["items"][0]["order_no"])


def test_F4_a_bad_review_opens_an_order_routed_to_who_handled_it(api: Api) -> None:
    r = api.http.get(f"/api/v1/work-orders/{api.order_no}", headers=api.office)
    body = r.json()
    assert r.status_code == 200
    assert (body["org_code"], body["staff_name"], body["window_name"]) == (
        "O1",
        "工作人员S1",
        "W1号窗口",
    )
    assert body["state"] == "registered" and body["profile_name"] == "rongan"
    # C9: masked for the office; C10: nothing at all for the rated clerk.
    assert (body["rater_name"], body["rater_phone"]) == ("李**", "138****8000")
    assert body["evaluation"]["label_names"] == ["工作人员服务态度生硬"]
    assert [a["action"] for a in body["actions"]] == ["transfer"]
    r = api.http.get(f"/api/v1/work-orders/{api.order_no}", headers=api.clerk)
    assert (r.json()["rater_name"], r.json()["rater_phone"], r.json()["actions"]) == (
        None,
        None,
        [],
    )


def test_steps_and_refusals_over_http(api: Api) -> None:
    url = f"/api/v1/work-orders/{api.order_no}/actions"
    r = api.http.post(url, json={"action": "transfer"}, headers=api.clerk)
    assert r.status_code == 403 and r.json()["code"] == "workorder_not_your_step"
    assert "政务服务管理办公室" in r.json()["message"]
    r = api.http.post(url, json={"action": "no-such-step"}, headers=api.office)
    assert r.status_code == 422
    r = api.http.post(url, json={"action": "report_upward"}, headers=api.office)
    assert r.status_code == 409 and r.json()["code"] == "illegal_transition"
    r = api.http.post(url, json={"action": "transfer", "version": 1}, headers=api.office)
    assert r.status_code == 200 and r.json()["state"] == "verifying"
    r = api.http.post(url, json={"action": "verify", "verdict": "true"}, headers=api.office)
    assert r.status_code == 422 and r.json()["code"] == "workorder_field_required"
    assert r.json()["message"] == "请填写说明"
    r = api.http.post(url, json={"action": "verify", "version": 1}, headers=api.office)
    assert r.status_code == 409 and r.json()["code"] == "workorder_stale"
    # A business system reads nothing of the procedure.
    r = api.system.get(f"/api/v1/work-orders/{api.order_no}")
    assert r.status_code == 403
    r = api.http.get("/api/v1/work-orders/不存在", headers=api.office)
    assert r.status_code == 422
    r = api.http.get("/api/v1/work-orders/CP20990101-00000001", headers=api.office)
    assert r.status_code == 404 and r.json()["code"] == "workorder_not_found"


def test_evidence_files_with_type_and_size_limits(api: Api) -> None:
    url = f"/api/v1/work-orders/{api.order_no}/attachments"
    r = api.http.post(
        url,
        files={"file": ("现场照片.png", PNG, "image/png")},
        data={"note": "窗口照片"},
        headers=api.office,
    )
    assert r.status_code == 201, r.text
    att = r.json()
    assert (att["content_type"], att["size"], att["filename"]) == (
        "image/png",
        len(PNG),
        "现场照片.png",
    )
    # The type is read from the content, whatever the name says.
    r = api.http.post(
        url, files={"file": ("fake.png", b"not an image", "image/png")}, headers=api.office
    )
    assert r.status_code == 422 and r.json()["code"] == "attachment_type_refused"
    r = api.http.post(
        url,
        files={"file": ("big.png", PNG + b"\0" * (5 * 1024 * 1024), "image/png")},
        headers=api.office,
    )
    assert r.status_code in (413, 422)
    r = api.http.get(f"{url}/{att['id']}", headers=api.clerk)
    assert r.status_code == 200 and r.content == PNG
    assert r.headers["content-disposition"].startswith("attachment;")
    timeline = api.http.get(f"/api/v1/work-orders/{api.order_no}", headers=api.office).json()
    assert [e["action"] for e in timeline["timeline"]] == ["opened", "attached"]
    assert timeline["timeline"][1]["attachments"][0]["id"] == att["id"]


def test_F5_documents_are_word_files_filled_from_the_order(api: Api) -> None:
    url = f"/api/v1/work-orders/{api.order_no}/actions"
    api.http.post(url, json={"action": "transfer"}, headers=api.office)
    for kind, title in (("transfer", "差评办件转办登记表"), ("report", "差评办件调查整改报告")):
        r = api.http.get(
            f"/api/v1/work-orders/{api.order_no}/documents/{kind}.docx", headers=api.office
        )
        assert r.status_code == 200, r.text
        assert zipfile.ZipFile(io.BytesIO(r.content)).namelist()
        doc = Document(io.BytesIO(r.content))
        text = "\n".join(p.text for p in doc.paragraphs)
        cells = "\n".join(c.text for t in doc.tables for row in t.rows for c in row.cells)
        assert title in text
        everything = text + cells
        assert "API-1" in everything
        # C9: the rater appears masked in every document.
        assert "李四光" not in everything and "13812348000" not in everything
    r = api.http.get(f"/api/v1/work-orders/{api.order_no}/documents/other.docx", headers=api.office)
    assert r.status_code == 422 and r.json()["code"] == "document_kind_unknown"


def test_hotline_platform_transfers_a_complaint(api: Api) -> None:
    """HB Art.14, F2: the 12345 platform, a signed business system, registers a complaint."""
    r = api.system.post(
        "/api/v1/work-orders/complaints",
        json={
            "source": "hotline",
            "case_no": "API-1",
            "complainant_phone": "13900001111",
            "text": "来电反映办理时间过长",
            "hotline_ticket": "12345-2026-000123",
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["order_no"].startswith("TS") and body["case_no"] == "API-1"
    assert body["timeline"][0]["data"] == {"hotline_ticket": "12345-2026-000123"}
    r = api.system.post(
        "/api/v1/work-orders/complaints", json={"source": "hotline", "text": "无编号"}
    )
    assert r.status_code == 422
    r = api.system.post(
        "/api/v1/work-orders/complaints",
        json={"source": "hotline", "case_no": "NONE", "text": "x"},
    )
    assert r.status_code == 404 and r.json()["code"] == "case_not_found"


def test_inbox_filters_sorting_and_paging(api: Api) -> None:
    for i in range(3):
        api.system.post(
            "/api/v1/work-orders/complaints",
            json={"source": "hotline", "org_code": "O1", "text": f"投诉{i}"},
        )
    get = api.http.get
    assert get("/api/v1/work-orders", headers=api.office).json()["total"] == 4
    assert get("/api/v1/work-orders?source=hotline", headers=api.office).json()["total"] == 3
    page = get(
        "/api/v1/work-orders?page_size=3&page=2&sort=no&order=asc", headers=api.office
    ).json()
    assert page["total"] == 4 and len(page["items"]) == 1
    assert get("/api/v1/work-orders?state=closed", headers=api.office).json()["total"] == 0
    assert get(f"/api/v1/work-orders?q={api.order_no}", headers=api.office).json()["total"] == 1
    assert get("/api/v1/work-orders?q=API-1", headers=api.office).json()["total"] == 1
    # Registration is due at 24:00 the same day: due within 24 hours.
    assert get("/api/v1/work-orders?timing=due_soon", headers=api.office).json()["total"] == 4
    assert get("/api/v1/work-orders?timing=overdue", headers=api.office).json()["total"] == 0
    assert get("/api/v1/work-orders?region=420000", headers=api.office).json()["total"] == 0
    # The clerk's inbox holds nothing until the window has a step to take.
    assert get("/api/v1/work-orders?mine=true", headers=api.clerk).json()["total"] == 0
    assert get("/api/v1/work-orders?state=bogus", headers=api.office).status_code == 422
