"""E1 over HTTP: the text review API under /api/v1 and its console pages, mounted on the real
application (``create_app``) with its error handlers. Supervisors of the region only; clear
Chinese errors with stable codes, never a 500; the rating never changes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from haochaping.app import create_app
from haochaping.db import Database
from haochaping.protection.ratelimit import api_routes
from haochaping.textreview import api, pages
from tests.api_clients import Official, add_business_client, add_official, sign_as
from tests.factories import T0, make_catalog
from tests.textreview.conftest import evaluation_row, rated, review_of

NOW = T0 + timedelta(hours=1)
PHONE = "13812345678"
TEXT = f"窗口人员态度差，垃圾服务，电话{PHONE}"


def mount(app: FastAPI) -> FastAPI:
    """Add the text review routers unless the application already serves them."""
    paths = {getattr(route, "path", "") for route in api_routes(app)}
    if "/api/v1/text-reviews" not in paths:
        app.include_router(api.router, prefix="/api/v1")
    if "/console/texts/" not in paths:
        app.include_router(pages.router)
    return app


@dataclass
class World:
    db: Database
    client: TestClient
    sup_in: Official
    sup_out: Official
    auditor: Official
    review_id: int
    evaluation_id: int
    other_review_id: int


@pytest.fixture
def world(committed_db: Database) -> Iterator[World]:
    with committed_db.transaction() as session:
        make_catalog(session)
        evaluation_id = rated(
            session, "API-TR-1", 1, labels=["attitude.1", "attitude.3"], text=TEXT
        )
        review_id = review_of(session, evaluation_id).id
        other = rated(session, "API-TR-2", 2, labels=["attitude.1"], text="排队太久\n没人管")
        other_review_id = review_of(session, other).id
    app = mount(create_app(committed_db, clock=lambda: NOW, tick_interval=0))
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:
        yield World(
            db=committed_db,
            client=client,
            sup_in=add_official(committed_db, "sup_in", "supervisor:450224", now=NOW),
            sup_out=add_official(committed_db, "sup_out", "supervisor:420000", now=NOW),
            auditor=add_official(committed_db, "auditor", "auditor:450000", now=NOW),
            review_id=review_id,
            evaluation_id=evaluation_id,
            other_review_id=other_review_id,
        )


def _evaluation(world: World) -> dict[str, Any]:
    with world.db.transaction() as session:
        return evaluation_row(session, world.evaluation_id)


# ---- API ----------------------------------------------------------------------------------


def test_E1_api_lists_and_shows_reviews_to_the_regions_supervisor(world: World) -> None:
    """E1: the office of the region sees its reviews, soonest due first, with the suggested
    redaction; the list itself shows no personal data."""
    c, headers = world.client, world.sup_in.headers()
    r = c.get("/api/v1/text-reviews", params={"status": "pending"}, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 2 and {i["id"] for i in body["items"]} == {
        world.review_id,
        world.other_review_id,
    }
    assert PHONE not in r.text
    r = c.get(f"/api/v1/text-reviews/{world.review_id}", headers=headers)
    assert r.status_code == 200
    detail = r.json()
    assert detail["original_text"] == TEXT
    assert detail["suggested_text"] == "窗口人员态度差，**服务，电话***********"
    assert detail["level_name"] == "非常不满意" and detail["status"] == "pending"
    assert [label["code"] for label in detail["labels"]] == ["attitude.1", "attitude.3"]
    assert detail["due_at"].startswith("2026-11-25T02:00:00")


def test_E1_api_approve_then_409_on_a_second_decision(world: World) -> None:
    """E1: approval publishes the original; deciding again is 409 ``text_review_decided``."""
    c, headers = world.client, world.sup_in.headers()
    before = _evaluation(world)
    r = c.post(f"/api/v1/text-reviews/{world.review_id}/approve", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "approved" and r.json()["published_text"] == TEXT
    assert r.json()["decided_by"] == "user:sup_in"
    for path, body in (("approve", {"note": "再次"}), ("redact", {"text": "", "label_codes": []})):
        again = c.post(f"/api/v1/text-reviews/{world.review_id}/{path}", json=body, headers=headers)
        assert again.status_code == 409
        assert again.json()["code"] == "text_review_decided"
        assert "已审核" in again.json()["message"]
    assert _evaluation(world) == before


def test_E1_api_redact_valid_and_refused(world: World) -> None:
    """E1: a masking redaction passes; added text or a foreign label is refused (422) with a
    stable code, and the review stays pending until a valid decision."""
    c, headers = world.client, world.sup_in.headers()
    before = _evaluation(world)
    url = f"/api/v1/text-reviews/{world.review_id}/redact"
    added = c.post(url, json={"text": TEXT + "，很好", "label_codes": []}, headers=headers)
    assert added.status_code == 422 and added.json()["code"] == "text_review_not_redaction"
    foreign = c.post(url, json={"text": "", "label_codes": ["efficiency.1"]}, headers=headers)
    assert foreign.status_code == 422
    assert foreign.json()["code"] == "text_review_label_not_original"
    ok = c.post(
        url,
        json={"text": "窗口人员态度差，**服务", "label_codes": ["attitude.3"], "note": "删去电话"},
        headers=headers,
    )
    assert ok.status_code == 200, ok.text
    out = ok.json()
    assert out["status"] == "redacted" and out["published_text"] == "窗口人员态度差，**服务"
    assert [label["code"] for label in out["published_labels"]] == ["attitude.3"]
    assert _evaluation(world) == before


def test_E1_api_out_of_scope_is_404_and_other_roles_are_refused(world: World) -> None:
    """E1: another region's office gets 404 (as if absent); officials without the review
    permission 403; no session 401; business systems 403."""
    c = world.client
    base = f"/api/v1/text-reviews/{world.review_id}"
    out = world.sup_out.headers()
    assert c.get(base, headers=out).status_code == 404
    r = c.post(f"{base}/approve", headers=out)
    assert r.status_code == 404 and r.json()["code"] == "text_review_not_found"
    r = c.post(f"{base}/redact", json={"text": ""}, headers=out)
    assert r.status_code == 404
    assert c.get("/api/v1/text-reviews", headers=out).json()["total"] == 0
    r = c.post(f"{base}/approve", headers=world.auditor.headers())
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert c.get("/api/v1/text-reviews").status_code == 401
    issued = add_business_client(world.db, now=NOW)
    signed = sign_as(TestClient(c.app, raise_server_exceptions=False), issued, lambda: NOW)
    assert signed.get("/api/v1/text-reviews").status_code == 403
    no_csrf = {"Cookie": world.sup_in.headers()["Cookie"]}
    assert c.post(f"{base}/approve", headers=no_csrf).status_code == 403
    with world.db.transaction() as session:
        assert review_of(session, world.evaluation_id).status == "pending"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/text-reviews/0", None),
        ("GET", "/api/v1/text-reviews/99999999999", None),
        ("GET", "/api/v1/text-reviews/abc", None),
        ("GET", "/api/v1/text-reviews/123456", None),
        ("GET", "/api/v1/text-reviews?status=nope", None),
        ("GET", "/api/v1/text-reviews?region=999999", None),
        ("GET", "/api/v1/text-reviews?due_before=not-a-date", None),
        ("GET", "/api/v1/text-reviews?due_before=2026-12-01T00:00:00", None),
        ("GET", "/api/v1/text-reviews?page=0", None),
        ("POST", "/api/v1/text-reviews/{id}/redact", {"text": "\u0000"}),
        ("POST", "/api/v1/text-reviews/{id}/redact", {"text": "x" * 1001}),
        ("POST", "/api/v1/text-reviews/{id}/redact", {"label_codes": "attitude.1"}),
        ("POST", "/api/v1/text-reviews/{id}/redact", {"text": 5, "extra": 1}),
        ("POST", "/api/v1/text-reviews/{id}/redact", [1, 2]),
        ("POST", "/api/v1/text-reviews/{id}/approve", {"note": "n" * 501}),
        ("POST", "/api/v1/text-reviews/{id}/approve", "x"),
    ],
)
def test_E1_api_odd_requests_get_clear_4xx_never_500(
    world: World, method: str, path: str, body: Any
) -> None:
    """E1: whatever a caller sends, a 4xx (or 200) with ``{"code","message","details"}``."""
    r = world.client.request(
        method,
        path.format(id=world.review_id),
        json=body,
        headers=world.sup_in.headers(),
    )
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert set(r.json()) == {"code", "message", "details"}
    with world.db.transaction() as session:
        assert review_of(session, world.evaluation_id).status == "pending"


# ---- console ------------------------------------------------------------------------------


def _cookie(official: Official) -> dict[str, str]:
    return {"Cookie": official.headers()["Cookie"]}


def test_E1_console_list_and_review_page_for_the_supervisor(world: World) -> None:
    """E1 in the console: pending reviews listed; the review page shows the original, the
    suggested redaction prefilled, the label checkboxes and two forms with the CSRF token."""
    c = world.client
    r = c.get("/console/texts/", headers=_cookie(world.sup_in))
    assert r.status_code == 200
    assert "差评文字审核" in r.text and f'href="/console/texts/{world.review_id}"' in r.text
    assert PHONE not in r.text  # the list shows masked excerpts only
    r = c.get(f"/console/texts/{world.review_id}", headers=_cookie(world.sup_in))
    assert r.status_code == 200
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert "<style" not in r.text and "<script" not in r.text and "style=" not in r.text
    textarea = re.search(r"<textarea[^>]*>(.*?)</textarea>", r.text, re.S)
    assert textarea is not None
    assert textarea.group(1) == "窗口人员态度差，**服务，电话***********"
    assert r.text.count(f'name="csrf_token" value="{world.sup_in.csrf}"') >= 3  # + logout
    assert 'value="attitude.1" checked' in r.text and 'value="attitude.3" checked' in r.text
    assert '<label for="redacted-text">' in r.text


def test_E1_console_refuses_officials_without_the_permission(world: World) -> None:
    """E1 is for the supervision office: others get the Chinese refusal page (403); no
    session goes to the login page."""
    c = world.client
    for path in ("/console/texts/", f"/console/texts/{world.review_id}"):
        r = c.get(path, headers=_cookie(world.auditor))
        assert r.status_code == 403 and "没有差评文字审核的权限" in r.text
        r = c.get(path)
        assert r.status_code == 303 and r.headers["location"].endswith("/console/login")
    r = c.post(
        f"/console/texts/{world.review_id}/approve",
        data={"csrf_token": world.auditor.csrf},
        headers=_cookie(world.auditor),
    )
    assert r.status_code == 403
    r = c.get(f"/console/texts/{world.review_id}", headers=_cookie(world.sup_out))
    assert r.status_code == 404 and "未找到" in r.text


def test_E1_console_approve_form_redirects_with_a_notice(world: World) -> None:
    """E1: the approve form, with the session's CSRF token, decides and comes back with a
    notice; without the token it is refused and nothing is decided."""
    c, cookie = world.client, _cookie(world.sup_in)
    url = f"/console/texts/{world.review_id}/approve"
    assert c.post(url, data={"csrf_token": "wrong"}, headers=cookie).status_code == 403
    before = _evaluation(world)
    r = c.post(url, data={"csrf_token": world.sup_in.csrf, "note": "已核实"}, headers=cookie)
    assert r.status_code == 303
    assert r.headers["location"] == f"/console/texts/?done=approved&review={world.review_id}"
    page = c.get(r.headers["location"], headers=cookie)
    assert f"第 {world.review_id} 号差评文字已审核通过" in page.text
    again = c.post(url, data={"csrf_token": world.sup_in.csrf}, headers=cookie)
    assert again.status_code == 409 and "已审核" in again.text
    shown = c.get(f"/console/texts/{world.review_id}", headers=cookie)
    assert "<textarea" not in shown.text and "已通过" in shown.text
    assert _evaluation(world) == before


def test_E1_console_redact_form_checks_the_rule_and_keeps_the_input(world: World) -> None:
    """E1: a redaction that adds text is shown again with the error and what was typed; a
    valid one (browser line breaks included) is accepted with the labels left checked."""
    c, cookie = world.client, _cookie(world.sup_in)
    url = f"/console/texts/{world.other_review_id}/redact"
    bad = c.post(
        url,
        data={"csrf_token": world.sup_in.csrf, "text": "排队太久了吧", "labels": ["attitude.1"]},
        headers=cookie,
    )
    assert bad.status_code == 422
    assert "不能增加或改写文字" in bad.text and "排队太久了吧</textarea>" in bad.text
    good = c.post(
        url,
        data={"csrf_token": world.sup_in.csrf, "text": "排队\r\n***", "labels": []},
        headers=cookie,
    )
    assert good.status_code == 303, good.text
    assert good.headers["location"].startswith("/console/texts/?done=redacted")
    detail = c.get(f"/api/v1/text-reviews/{world.other_review_id}", headers=world.sup_in.headers())
    assert detail.json()["published_text"] == "排队\n***"
    assert detail.json()["published_labels"] == []
