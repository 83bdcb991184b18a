"""D2 (ZZ 监督查评) over HTTP: the API under /api/v1/callbacks and the console pages under
/console/callbacks, on the real application. Supervision offices only; clear Chinese errors
with stable codes, never a 500; phones masked everywhere but in an audited reveal (C9)."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from haochaping.app import create_app
from haochaping.audit.models import AuditEntry
from haochaping.db import Database
from tests.api_clients import Official, add_business_client, add_official, sign_as
from tests.callbacks.conftest import PHONE, rated
from tests.factories import T0, make_catalog

NOW = T0 + timedelta(days=1)
MASKED = "138****8000"


@dataclass
class World:
    db: Database
    client: TestClient
    sup_in: Official
    sup_out: Official
    auditor: Official


@pytest.fixture
def world(committed_db: Database) -> Iterator[World]:
    with committed_db.transaction() as session:
        make_catalog(session)
        for n in range(4):
            rated(session, f"API-CB-{n}", staff="S1" if n % 2 else "S2", channel=4)
        rated(session, "API-CB-HB", item="I-HB", staff="SH")
    app = create_app(committed_db, clock=lambda: NOW, tick_interval=0)
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield World(
            db=committed_db,
            client=client,
            sup_in=add_official(committed_db, "sup_in", "supervisor:450224", now=NOW),
            sup_out=add_official(committed_db, "sup_out", "supervisor:420000", now=NOW),
            auditor=add_official(committed_db, "auditor", "auditor:450000", now=NOW),
        )


def _draw(world: World, who: Official | None = None, **body: Any) -> Any:
    return world.client.post(
        "/api/v1/callbacks/samples",
        json={"region": "450224", "size": 3, **body},
        headers=(who or world.sup_in).headers(),
    )


def _audit(world: World, action: str) -> list[AuditEntry]:
    with world.db.transaction() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_D2_draw_read_and_list_over_the_api(world: World) -> None:
    r = _draw(world, note="11月抽查")
    assert r.status_code == 201, r.text
    sample = r.json()
    assert sample["eligible"] == 4 and sample["size"] == 3 and sample["note"] == "11月抽查"
    assert {i["phone"] for i in sample["items"]} == {MASKED}
    assert PHONE not in r.text
    r = world.client.get(f"/api/v1/callbacks/samples/{sample['id']}", **_as(world.sup_in))
    assert r.status_code == 200 and r.json()["items"] == sample["items"]
    r = world.client.get("/api/v1/callbacks/samples", **_as(world.sup_in))
    assert r.json()["total"] == 1 and r.json()["items"][0]["tally"]["pending"] == 3
    # Another province's office sees nothing of it.
    r = world.client.get("/api/v1/callbacks/samples", **_as(world.sup_out))
    assert r.json()["total"] == 0
    r = world.client.get(f"/api/v1/callbacks/samples/{sample['id']}", **_as(world.sup_out))
    assert r.status_code == 404 and r.json()["code"] == "callback_sample_not_found"


def _as(who: Official) -> dict[str, Any]:
    return {"headers": who.headers()}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"size": 0}, 422, "callback_size_invalid"),
        ({"size": 501}, 422, "callback_size_invalid"),
        ({"size": "many"}, 422, "invalid_request"),
        ({"region": "999999"}, 404, "region_not_found"),
        ({"region": "420000"}, 403, "out_of_scope"),
        ({"from": "2026-11-09", "to": "2026-11-01"}, 422, "callback_period_invalid"),
        ({"from": "not a date"}, 422, "invalid_request"),
        ({"channel": 9}, 422, "invalid_request"),
        ({"colour": "red"}, 422, "invalid_request"),
        ({"org": "NOPE"}, 404, "org_not_found"),
    ],
)
def test_D2_bad_draws_get_a_json_error_in_chinese(
    world: World, body: dict[str, Any], status: int, code: str
) -> None:
    r = _draw(world, **body)
    assert r.status_code == status, r.text
    error = r.json()
    assert error["code"] == code
    assert re.search(r"[\u4e00-\u9fff]", error["message"]), error


def test_D2_only_supervision_offices_officials_only(world: World) -> None:
    assert world.client.post("/api/v1/callbacks/samples", json={}).status_code == 401
    r = _draw(world, world.auditor)
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    issued = add_business_client(world.db, code="CB-SYS", now=NOW)
    signed = sign_as(TestClient(world.client.app), issued, lambda: NOW)
    r = signed.get("/api/v1/callbacks/samples")
    assert r.status_code == 403 and r.json()["message"] == "业务系统无权访问此功能"


def test_D2_outcomes_corrections_and_reveal_over_the_api(world: World) -> None:
    sample = _draw(world).json()
    first, second = sample["items"][0]["id"], sample["items"][1]["id"]
    url = "/api/v1/callbacks/items/{}/outcome"
    r = world.client.post(
        url.format(first), json={"result": "denied", "note": "本人称未评价"}, **_as(world.sup_in)
    )
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "denied" and r.json()["attempts"] == 1
    r = world.client.post(url.format(first), json={"result": "confirmed"}, **_as(world.sup_in))
    assert r.status_code == 422 and r.json()["code"] == "callback_reason_required"
    r = world.client.post(url.format(first), json={"result": "no_answer"}, **_as(world.sup_in))
    assert r.status_code == 409 and r.json()["code"] == "callback_outcome_recorded"
    r = world.client.post(url.format(second), json={"result": "maybe"}, **_as(world.sup_in))
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    r = world.client.post(url.format(second), json={"result": "unreachable"}, **_as(world.sup_in))
    assert r.status_code == 422 and r.json()["code"] == "callback_attempts_too_few"
    r = world.client.post(url.format(second), json={"result": "confirmed"}, **_as(world.sup_out))
    assert r.status_code == 404 and r.json()["code"] == "callback_item_not_found"
    # Without the CSRF header a console session cannot change anything.
    r = world.client.post(
        url.format(second),
        json={"result": "confirmed"},
        headers={"Cookie": world.sup_in.headers()["Cookie"]},
    )
    assert r.status_code == 403 and r.json()["code"] == "csrf_failed"

    r = world.client.post(f"/api/v1/callbacks/items/{second}/reveal", **_as(world.sup_in))
    assert r.status_code == 200 and r.json() == {"item_id": second, "phone": PHONE, "clear": True}
    (entry,) = _audit(world, "pii_unmasked")
    assert entry.target == f"callback_item:{second}" and PHONE not in entry.details
    r = world.client.post(f"/api/v1/callbacks/items/{second}/reveal", **_as(world.sup_out))
    assert r.status_code == 404

    r = world.client.get("/api/v1/callbacks/summary?region=450224", **_as(world.sup_in))
    assert r.status_code == 200
    assert r.json()["total"] | {"denial_rate": None} == {
        "key": "total",
        "name": "合计",
        "drawn": 3,
        "confirmed": 0,
        "denied": 1,
        "unreachable": 0,
        "pending": 2,
        "denial_rate": None,
    }
    assert r.json()["total"]["denial_rate"] == 1.0
    r = world.client.get("/api/v1/callbacks/denials", **_as(world.sup_in))
    assert r.json()["total"] == 1 and r.json()["items"][0]["item_id"] == first
    assert PHONE not in r.text and MASKED not in r.text
    r = world.client.get(
        "/api/v1/callbacks/summary?from=2026-12-01&to=2026-11-01", **_as(world.sup_in)
    )
    assert r.status_code == 422 and r.json()["code"] == "callback_period_invalid"
    r = world.client.get("/api/v1/callbacks/denials", **_as(world.sup_out))
    assert r.json()["total"] == 0


# ---- console --------------------------------------------------------------------------------


def _console(world: World, who: Official) -> dict[str, Any]:
    return {"headers": {"Cookie": who.headers()["Cookie"]}}


def test_D2_console_draw_reveal_record_and_export(world: World) -> None:
    """D2, C9: the pages show phones masked; a reveal shows one, recorded; exports are masked
    and recorded."""
    page = world.client.get("/console/callbacks/", **_console(world, world.sup_in))
    assert page.status_code == 200 and "随机抽取" in page.text
    csrf = world.sup_in.csrf
    r = world.client.post(
        "/console/callbacks/draw",
        data={"csrf_token": csrf, "region": "450224", "size": "0"},
        **_console(world, world.sup_in),
    )
    assert r.status_code == 422 and "抽取数量应在 1 到 500 之间" in r.text
    r = world.client.post(
        "/console/callbacks/draw",
        data={"csrf_token": "wrong", "region": "450224", "size": "2"},
        **_console(world, world.sup_in),
    )
    assert r.status_code == 403
    r = world.client.post(
        "/console/callbacks/draw",
        data={"csrf_token": csrf, "region": "450224", "size": "2", "channel": "4"},
        **_console(world, world.sup_in),
    )
    assert r.status_code == 303, r.text
    location = r.headers["location"]
    sample_id = int(location.split("/")[-1].split("?")[0])
    page = world.client.get(location, **_console(world, world.sup_in))
    assert "已抽取第" in page.text and MASKED in page.text and PHONE not in page.text
    item_ids = [int(i) for i in re.findall(r'id="item-(\d+)"', page.text)]
    assert len(item_ids) == 2

    r = world.client.post(
        f"/console/callbacks/items/{item_ids[0]}/reveal",
        data={"csrf_token": csrf},
        **_console(world, world.sup_in),
    )
    assert r.status_code == 200 and r.text.count(PHONE) == 1 and MASKED in r.text
    assert len(_audit(world, "pii_unmasked")) == 1

    r = world.client.post(
        f"/console/callbacks/items/{item_ids[0]}/outcome",
        data={"csrf_token": csrf, "result": "confirmed", "stated_level": "3", "note": "满意"},
        **_console(world, world.sup_in),
    )
    assert r.status_code == 303 and r.headers["location"].endswith(f"#item-{item_ids[0]}")
    r = world.client.post(
        f"/console/callbacks/items/{item_ids[0]}/outcome",
        data={"csrf_token": csrf, "result": "denied"},
        **_console(world, world.sup_in),
    )
    assert r.status_code == 422 and "更正已登记的回访结果须说明理由" in r.text

    export = world.client.get(
        f"/console/callbacks/{sample_id}/export.xlsx", **_console(world, world.sup_in)
    )
    assert export.status_code == 200
    book = load_workbook(io.BytesIO(export.content), read_only=True)
    cells = [
        str(c)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for c in row
    ]
    assert MASKED in cells and not any(PHONE in c for c in cells)
    assert "评价属实（评价人确认）" in cells
    summary = world.client.get(
        "/console/callbacks/summary?region=450224", **_console(world, world.sup_in)
    )
    assert summary.status_code == 200 and "融安县公安局" in summary.text
    export = world.client.get(
        "/console/callbacks/summary.xlsx?region=450224", **_console(world, world.sup_in)
    )
    assert export.status_code == 200
    book = load_workbook(io.BytesIO(export.content), read_only=True)
    assert book.sheetnames == ["按机构", "按工作人员", "按评价渠道", "否认评价明细"]
    targets = {e.target for e in _audit(world, "export")}
    assert targets == {f"callback_sample:{sample_id}.xlsx", "callbacks/summary.xlsx"}


def test_D2_console_refuses_officials_without_the_permission_and_other_regions(
    world: World,
) -> None:
    r = world.client.get("/console/callbacks/", **_console(world, world.auditor))
    assert r.status_code == 403 and "您没有监督查评的权限" in r.text
    sample_id = _draw(world).json()["id"]
    r = world.client.get(f"/console/callbacks/{sample_id}", **_console(world, world.sup_out))
    assert r.status_code == 404 and "未找到该抽查样本" in r.text
    r = world.client.get(
        f"/console/callbacks/{sample_id}/export.xlsx", **_console(world, world.sup_out)
    )
    assert r.status_code == 404
    assert world.client.get("/console/callbacks/").status_code == 303
    home = world.client.get("/console/", **_console(world, world.sup_in))
    assert 'href="/console/callbacks/"' in home.text and "监督查评" in home.text
