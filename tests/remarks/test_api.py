"""综合点评 API (D2, D3, G1, C9): the 12345 platform's signed, idempotent intake; officials'
list, read, route, answer, publish and export in their scope; the audited reveal."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from haochaping.app import create_app
from haochaping.audit.models import AuditEntry
from haochaping.clients.signing import SignedAuth
from haochaping.db import Database
from tests.api_clients import Official, add_business_client, add_official
from tests.factories import make_catalog
from tests.remarks.helpers import EMAIL, NAME, NOW, PHONE, RA, ZZ


@dataclass
class World:
    client: TestClient
    db: Database
    hotline: dict[str, Any]
    sup: Official
    sup_ra: Official
    org: Official
    pii: Official


@pytest.fixture
def world(committed_db: Database) -> Iterator[World]:
    with committed_db.transaction() as session:
        make_catalog(session)
    issued = add_business_client(committed_db, code="12345", regions=["370000"], now=NOW)
    app = create_app(committed_db, clock=lambda: NOW, tick_interval=0)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield World(
            client,
            committed_db,
            {"auth": SignedAuth(issued.client, issued.kid, issued.secret, clock=lambda: NOW)},
            add_official(committed_db, "sup-zz", f"supervisor:{ZZ}", now=NOW),
            add_official(committed_db, "sup-ra", f"supervisor:{RA}", now=NOW),
            add_official(committed_db, "org-z1", "org_manager:Z1", now=NOW),
            add_official(committed_db, "pii-zz", f"pii_viewer:{ZZ}", now=NOW),
        )


BODY = {
    "external_id": "12345-2026-000001",
    "region": ZZ,
    "text": f"市民来电投诉：窗口人员态度差，要求回电{PHONE}",
    "contact": {"name": NAME, "phone": PHONE, "email": EMAIL},
}


def _submit(world: World, **changes: Any) -> Any:
    return world.client.post("/api/v1/remarks", json={**BODY, **changes}, **world.hotline)


def test_D2_hotline_submission_is_idempotent_by_external_id(world: World) -> None:
    first = _submit(world)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True and len(body["query_code"]) == 8
    again = _submit(world)
    assert again.status_code == 200
    assert again.json() == {**body, "query_code": None, "created": False}
    other = _submit(world, text="另一件事")
    assert other.status_code == 409 and other.json()["code"] == "remark_external_id_reused"
    listed = world.client.get("/api/v1/remarks", headers=world.sup.headers()).json()
    assert listed["total"] == 1
    (item,) = listed["items"]
    assert item["source"] == "hotline" and item["category"] == "complaint"
    # C9: the list's excerpt masks the number the caller dictated.
    assert PHONE not in item["excerpt"]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"text": ""}, 422, "invalid_request"),
        ({"text": "字" * 2001}, 422, "invalid_request"),
        ({"region": "999999"}, 404, "region_not_found"),
        ({"region": RA}, 403, "out_of_scope"),
        ({"org_code": "O1"}, 422, "remark_org_outside_region"),
        ({"category": "rant"}, 422, "invalid_request"),
        ({"contact": {"phone": "abc"}}, 422, "invalid_request"),
        ({"surprise": 1}, 422, "invalid_request"),
    ],
)
def test_hotline_bad_input_gets_4xx_json(
    world: World, changes: dict[str, Any], status: int, code: str
) -> None:
    response = _submit(world, **changes)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code and response.json()["message"]


def test_hotline_needs_a_signature(world: World) -> None:
    response = world.client.post("/api/v1/remarks", json=BODY)
    assert response.status_code == 401
    # An official lacks remarks:submit.
    response = world.client.post("/api/v1/remarks", json=BODY, headers=world.sup.headers())
    assert response.status_code == 403


def test_officials_route_answer_publish_in_scope(world: World) -> None:
    no = _submit(world).json()["remark_no"]
    c, sup, org = world.client, world.sup.headers(), world.org.headers()
    detail = c.get(f"/api/v1/remarks/{no}", headers=sup).json()
    assert detail["contact"] == {
        "name": "张**",
        "phone": "139****5678",
        "email": "z***@example.com",
        "clear": False,
    }
    assert detail["allowed_actions"] == ["route", "close"] and detail["publishing"] is True
    # The organisation sees nothing until the remark is routed to it.
    assert c.get(f"/api/v1/remarks/{no}", headers=org).status_code == 404
    # Another county's office does not see it at all.
    assert c.get(f"/api/v1/remarks/{no}", headers=world.sup_ra.headers()).status_code == 404
    assert c.get("/api/v1/remarks", headers=world.sup_ra.headers()).json()["total"] == 0
    r = c.post(
        f"/api/v1/remarks/{no}/route",
        json={"org_code": "Z1", "category": "complaint", "topic": "attitude"},
        headers=sup,
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "routed" and r.json()["org_code"] == "Z1"
    # The organisation manager may answer but not publish.
    r = c.post(f"/api/v1/remarks/{no}/publish", headers=org)
    assert r.status_code == 403
    r = c.post(
        f"/api/v1/remarks/{no}/answer", json={"text": "已约谈当事人并回电致歉。"}, headers=org
    )
    assert r.status_code == 200 and r.json()["status"] == "answered"
    r = c.post(f"/api/v1/remarks/{no}/answer", json={"text": "再答一次"}, headers=org)
    assert r.status_code == 409 and r.json()["code"] == "remark_transition_illegal"
    r = c.post(f"/api/v1/remarks/{no}/publish", json={}, headers=sup)
    assert r.status_code == 200 and r.json()["status"] == "published"
    assert PHONE not in r.json()["published_text"]


def test_C9_export_masks_contacts_and_is_audited(world: World) -> None:
    _submit(world)
    response = world.client.get("/api/v1/remarks.xlsx", headers=world.sup.headers())
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    assert sheet is not None
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert len(rows) == 2
    cells = " ".join(str(v) for v in rows[1] if v)
    assert PHONE not in cells and EMAIL not in cells and NAME not in cells
    assert "139****5678" in cells and "z***@example.com" in cells
    # Another county's office exports nothing of it.
    other = world.client.get("/api/v1/remarks.xlsx", headers=world.sup_ra.headers())
    assert len(list(load_workbook(io.BytesIO(other.content)).active.iter_rows())) == 1  # type: ignore[union-attr]
    with world.db.transaction() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).all()
    assert [e.target for e in entries] == ["remarks.xlsx", "remarks.xlsx"]
    assert all(PHONE not in e.details for e in entries)


def test_C9_contact_reveal_needs_the_permission_and_is_audited(world: World) -> None:
    no = _submit(world).json()["remark_no"]
    path = f"/api/v1/remarks/{no}/contact/unmask"
    reason = {"reason": "回电了解投诉情况"}
    assert world.client.post(path, json=reason, headers=world.sup.headers()).status_code == 403
    r = world.client.post(path, json=reason, headers=world.pii.headers())
    assert r.status_code == 200
    assert r.json() == {"name": NAME, "phone": PHONE, "email": EMAIL, "clear": True}
    with world.db.transaction() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "pii_unmasked")).one()
    assert entry.target == f"remark:{no}" and PHONE not in entry.details
