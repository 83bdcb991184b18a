"""The permission matrix (issue 3): every route declares an access rule, and each role is
checked inside and outside its scope on every route.

A route added without a rule, or without a row in ``MATRIX`` below, fails this test.
Outcomes: ``ok`` (allowed, sees the data), ``out`` (allowed in general, but the data is outside
its scope: 404, 403 out_of_scope or an empty answer), ``denied`` (403: the role lacks the
permission), ``unauth`` (401: not identified).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from haochaping.access.rules import Public, Requires, route_rules
from haochaping.app import create_app
from haochaping.channels.sms_api import GatewaySigned
from haochaping.clients.signing import SignedAuth
from haochaping.db import Database
from haochaping.protection.ratelimit import api_routes, route_rate_limits
from tests.api_clients import add_business_client, add_official
from tests.factories import T0, make_catalog

NOW = T0 + timedelta(hours=1)
MONTH = NOW.strftime("%Y-%m")
APPLICANT = {
    "type": "person",
    "name": "王五",
    "id_type": "身份证",
    "id_no": "450224198805051234",
    "phone": "13977712345",
}

# Principal name -> grant specs ("client:<region>" for a business system).
PRINCIPALS: dict[str, tuple[str, ...]] = {
    "anonymous": (),
    "client_in": ("client:450224",),
    "client_out": ("client:420000",),
    "admin": ("admin",),
    "sup_in": ("supervisor:450224",),
    "sup_out": ("supervisor:420000",),
    "org_in": ("org_manager:O1",),
    "org_out": ("org_manager:O3",),
    "staff_in": ("window_staff:S1",),
    "staff_out": ("window_staff:S2",),
    "auditor_in": ("auditor:450000",),
    "auditor_out": ("auditor:420000",),
    "pii_in": ("pii_viewer:450224",),
    "pii_out": ("pii_viewer:420000",),
}


@dataclass(frozen=True)
class Probe:
    method: str
    path: str
    body: Any = None
    # True when a 2xx answer shows nothing of the case under test.
    empty: Callable[[httpx.Response], bool] = lambda _: False
    # A multipart upload instead of a JSON body.
    files: dict[str, Any] | None = None


def _expect(ok: set[str], out: set[str], denied: set[str] | None = None) -> dict[str, str]:
    """Everyone not in ``ok`` or ``out`` is denied; the anonymous caller is unauthenticated."""
    table = {name: "denied" for name in PRINCIPALS}
    table.update({n: "ok" for n in ok})
    table.update({n: "out" for n in out})
    table.update({n: "denied" for n in denied or set()})
    table["anonymous"] = "unauth"
    return table


READERS_IN = {"admin", "sup_in", "org_in", "auditor_in"}
READERS_OUT = {"sup_out", "org_out", "auditor_out"}
REGION_READERS_IN = {"admin", "sup_in", "auditor_in"}
REGION_READERS_OUT = {"sup_out", "auditor_out"}
CLIENTS = ({"client_in"}, {"client_out"})


def _no_case(response: httpx.Response) -> bool:
    return not any(item.get("case_no") == "M-1" for item in response.json().get("items", []))


def _no_s1(response: httpx.Response) -> bool:
    return not any(item.get("code") == "S1" for item in response.json().get("items", []))


def _xlsx_without_s1(response: httpx.Response) -> bool:
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    assert sheet is not None
    return not any("S1" in row for row in sheet.iter_rows(values_only=True))


def _bulk_refused(response: httpx.Response) -> bool:
    return bool(response.json()["results"][0].get("code") == "occasion_not_found")


def _xlsx_without_case(response: httpx.Response) -> bool:
    sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
    assert sheet is not None
    return not any("M-1" in row for row in sheet.iter_rows(values_only=True))


# (method, route path) -> (probe, expected outcome per principal). Filled per test run since
# the probes need the ids of the seeded rows.
def _no_order(response: httpx.Response) -> bool:
    return not response.json().get("items")


# A 1x1 PNG: the smallest evidence photo.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


REMARK = {
    "external_id": "M-REMARK-1",
    "region": "450224",
    "text": "建议大厅增加休息座位",
    "contact": {"name": "赵六", "phone": "13977712346"},
}


def _without_remark(remark_no: str) -> Callable[[httpx.Response], bool]:
    return lambda r: not any(i.get("remark_no") == remark_no for i in r.json().get("items", []))


def _xlsx_without(value: str) -> Callable[[httpx.Response], bool]:
    def check(response: httpx.Response) -> bool:
        sheet = load_workbook(io.BytesIO(response.content), read_only=True).active
        assert sheet is not None
        return not any(value in row for row in sheet.iter_rows(values_only=True))

    return check


def matrix(world: World) -> dict[tuple[str, str], tuple[Probe, Any]]:
    occasion_id, evaluation_id = world.occasion_id, world.evaluation_id
    order = f"/api/v1/work-orders/{world.order_no}"
    review = f"/api/v1/text-reviews/{world.review_id}"
    # F1-F5: officials read orders in scope; clients never. Steps: acting roles only; a step
    # that is not the caller's is refused by the procedure (counted as past the access check).
    wo_readers = (READERS_IN | {"staff_in"}, READERS_OUT | {"staff_out"})
    wo_actors = ({"sup_in", "org_in", "staff_in"}, {"sup_out", "org_out", "staff_out"})
    new_case = {
        "case_no": "M-NEW",
        "item_code": "I-IMM",
        "handling": "window",
        "staff_code": "S1",
        "window_code": "W1",
        "applicant": APPLICANT,
        "accepted_at": T0.isoformat(),
        "completed_at": T0.isoformat(),
    }
    rating = {"occasion_id": occasion_id, "level": 4, "channel": 4}
    public = {name: "ok" for name in PRINCIPALS}
    staff_of_o1 = f"dimension=staff&org={world.org_id}&period={MONTH}"
    return {
        ("GET", "/api/v1/health"): (Probe("GET", "/api/v1/health"), public),
        ("POST", "/api/v1/cases"): (
            Probe("POST", "/api/v1/cases", new_case),
            _expect(*CLIENTS),
        ),
        ("GET", "/api/v1/cases/{case_no}"): (
            Probe("GET", "/api/v1/cases/M-1"),
            _expect(READERS_IN | {"client_in"}, READERS_OUT | {"client_out"}),
        ),
        ("POST", "/api/v1/cases/{case_no}/applicant/unmask"): (
            Probe("POST", "/api/v1/cases/M-1/applicant/unmask", {"reason": "回访差评核实情况"}),
            _expect({"pii_in"}, {"pii_out"}),
        ),
        ("POST", "/api/v1/evaluations"): (
            Probe("POST", "/api/v1/evaluations", rating),
            _expect(*CLIENTS),
        ),
        ("POST", "/api/v1/evaluations/bulk"): (
            Probe("POST", "/api/v1/evaluations/bulk", {"items": [rating]}, _bulk_refused),
            _expect(*CLIENTS),
        ),
        ("POST", "/api/v1/evaluations/{evaluation_id}/follow-up"): (
            Probe(
                "POST",
                f"/api/v1/evaluations/{evaluation_id}/follow-up",
                {"text": "补充说明", "channel": 4},
            ),
            _expect(*CLIENTS),
        ),
        ("GET", "/api/v1/evaluations/{evaluation_id}"): (
            Probe("GET", f"/api/v1/evaluations/{evaluation_id}"),
            _expect(
                READERS_IN | {"client_in", "staff_in"}, READERS_OUT | {"client_out", "staff_out"}
            ),
        ),
        # Filters naming the case's organisation never widen the scope.
        ("GET", "/api/v1/evaluations"): (
            Probe("GET", "/api/v1/evaluations?org=O1&region=450000", empty=_no_case),
            _expect(
                READERS_IN | {"client_in", "staff_in"}, READERS_OUT | {"client_out", "staff_out"}
            ),
        ),
        ("GET", "/api/v1/evaluations.xlsx"): (
            Probe("GET", "/api/v1/evaluations.xlsx?org=O1", empty=_xlsx_without_case),
            _expect(READERS_IN | {"staff_in"}, READERS_OUT | {"staff_out"}),
        ),
        ("GET", "/api/v1/scores"): (
            Probe("GET", "/api/v1/scores?dimension=staff", empty=_no_s1),
            _expect(READERS_IN | {"staff_in"}, READERS_OUT | {"staff_out"}),
        ),
        # Issue 6: statistics read the folded rollups, inside the caller's subtree; the region
        # dimension is for region-wide roles (an organisation's manager lacks it: denied).
        ("GET", "/api/v1/stats/table"): (
            Probe(
                "GET",
                f"/api/v1/stats/table?dimension=staff&org={world.org_id}&period={MONTH}",
                empty=_no_s1,
            ),
            _expect(READERS_IN | {"staff_in"}, READERS_OUT | {"staff_out"}),
        ),
        ("GET", "/api/v1/stats/ranking"): (
            Probe(
                "GET",
                f"/api/v1/stats/ranking?dimension=staff&org={world.org_id}&period={MONTH}",
                empty=_no_s1,
            ),
            _expect(READERS_IN | {"staff_in"}, READERS_OUT | {"staff_out"}),
        ),
        ("GET", "/api/v1/stats/export.xlsx"): (
            Probe(
                "GET",
                f"/api/v1/stats/export.xlsx?{staff_of_o1}",
                empty=_xlsx_without_s1,
            ),
            _expect(READERS_IN | {"staff_in"}, READERS_OUT | {"staff_out"}),
        ),
        ("GET", "/api/v1/stats/focus"): (
            Probe("GET", f"/api/v1/stats/focus?dimension=region&region=450224&period={MONTH}"),
            _expect(REGION_READERS_IN, REGION_READERS_OUT),
        ),
        ("GET", "/api/v1/stats/overview"): (
            Probe("GET", f"/api/v1/stats/overview?dimension=region&key=450224&period={MONTH}"),
            _expect(REGION_READERS_IN, REGION_READERS_OUT),
        ),
        ("GET", "/api/v1/stats/hot-words"): (
            Probe("GET", f"/api/v1/stats/hot-words?dimension=region&key=450224&period={MONTH}"),
            _expect(REGION_READERS_IN, REGION_READERS_OUT),
        ),
        ("GET", "/api/v1/work-orders"): (
            Probe("GET", "/api/v1/work-orders?org=O1", empty=_no_order),
            _expect(*wo_readers),
        ),
        ("GET", "/api/v1/work-orders/{order_no}"): (Probe("GET", order), _expect(*wo_readers)),
        ("GET", "/api/v1/work-orders/{order_no}/documents/{kind}.docx"): (
            Probe("GET", f"{order}/documents/transfer.docx"),
            _expect(*wo_readers),
        ),
        ("GET", "/api/v1/work-orders/{order_no}/attachments/{attachment_id}"): (
            Probe("GET", f"{order}/attachments/{world.attachment_id}"),
            _expect(*wo_readers),
        ),
        ("POST", "/api/v1/work-orders/{order_no}/actions"): (
            Probe("POST", f"{order}/actions", {"action": "transfer"}),
            _expect(*wo_actors),
        ),
        ("POST", "/api/v1/work-orders/{order_no}/attachments"): (
            Probe("POST", f"{order}/attachments", files={"file": ("photo.png", PNG, "image/png")}),
            _expect(*wo_actors),
        ),
        # RA 附件2 / HB Art.14: the office, or the 12345 platform as a business system.
        ("POST", "/api/v1/work-orders/complaints"): (
            Probe(
                "POST",
                "/api/v1/work-orders/complaints",
                {"source": "hotline", "org_code": "O1", "text": "电话反映窗口推诿"},
            ),
            _expect({"sup_in", "client_in"}, {"sup_out", "client_out"}),
        ),
        # E1: the supervision office reviews bad-review text.
        ("GET", "/api/v1/text-reviews"): (
            Probe("GET", "/api/v1/text-reviews", empty=_no_order),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("GET", "/api/v1/text-reviews/{review_id}"): (
            Probe("GET", review),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("POST", "/api/v1/text-reviews/{review_id}/approve"): (
            Probe("POST", f"{review}/approve", {}),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("POST", "/api/v1/text-reviews/{review_id}/redact"): (
            Probe("POST", f"{review}/redact", {"text": "等候时间**"}),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        # D2 (ZZ 监督查评): the supervision office draws samples, calls raters back, reveals a
        # phone to call (audited) and reads the findings; never a business system.
        ("POST", "/api/v1/callbacks/samples"): (
            Probe("POST", "/api/v1/callbacks/samples", {"region": "450224", "size": 1}),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("GET", "/api/v1/callbacks/samples"): (
            Probe("GET", "/api/v1/callbacks/samples", empty=_no_order),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("GET", "/api/v1/callbacks/samples/{sample_id}"): (
            Probe("GET", f"/api/v1/callbacks/samples/{world.callback_sample_id}"),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("POST", "/api/v1/callbacks/items/{item_id}/outcome"): (
            Probe(
                "POST",
                f"/api/v1/callbacks/items/{world.callback_item_id}/outcome",
                {"result": "no_answer"},
            ),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("POST", "/api/v1/callbacks/items/{item_id}/reveal"): (
            Probe("POST", f"/api/v1/callbacks/items/{world.callback_item_id}/reveal"),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("GET", "/api/v1/callbacks/summary"): (
            Probe(
                "GET",
                "/api/v1/callbacks/summary?region=450000",
                empty=lambda r: r.json()["total"]["drawn"] == 0,
            ),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        # 综合点评 (D2, D3, C9): the 12345 platform submits; officials read in scope (an
        # organisation once routed to it), the office routes, publishes and closes, the office or
        # the organisation answers, a pii_viewer reveals the contact.
        ("POST", "/api/v1/remarks"): (
            Probe("POST", "/api/v1/remarks", {**REMARK, "external_id": "M-REMARK-2"}),
            _expect(*CLIENTS),
        ),
        ("GET", "/api/v1/remarks"): (
            Probe("GET", "/api/v1/remarks?org=O1", empty=_without_remark(world.remark_no)),
            _expect(READERS_IN, READERS_OUT),
        ),
        ("GET", "/api/v1/remarks.xlsx"): (
            Probe("GET", "/api/v1/remarks.xlsx", empty=_xlsx_without(world.remark_no)),
            _expect(READERS_IN, READERS_OUT),
        ),
        ("GET", "/api/v1/remarks/{remark_no}"): (
            Probe("GET", f"/api/v1/remarks/{world.remark_no}"),
            _expect(READERS_IN, READERS_OUT),
        ),
        ("POST", "/api/v1/remarks/{remark_no}/route"): (
            Probe(
                "POST",
                f"/api/v1/remarks/{world.remark_no}/route",
                {"org_code": "O1", "category": "suggestion"},
            ),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("POST", "/api/v1/remarks/{remark_no}/answer"): (
            Probe("POST", f"/api/v1/remarks/{world.remark_no}/answer", {"text": "已增设座椅。"}),
            _expect({"sup_in", "org_in"}, {"sup_out", "org_out"}),
        ),
        # RA does not publish remarks (409 past the access check).
        ("POST", "/api/v1/remarks/{remark_no}/publish"): (
            Probe("POST", f"/api/v1/remarks/{world.remark_no}/publish"),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("POST", "/api/v1/remarks/{remark_no}/close"): (
            Probe("POST", f"/api/v1/remarks/{world.remark_no}/close"),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        ("POST", "/api/v1/remarks/{remark_no}/contact/unmask"): (
            Probe(
                "POST",
                f"/api/v1/remarks/{world.remark_no}/contact/unmask",
                {"reason": "回电了解意见建议情况"},
            ),
            _expect({"pii_in"}, {"pii_out"}),
        ),
        ("GET", "/api/v1/callbacks/denials"): (
            Probe("GET", "/api/v1/callbacks/denials", empty=lambda r: r.json()["total"] == 0),
            _expect({"sup_in"}, {"sup_out"}),
        ),
        # D4: only the SMS gateway, by the signature of its shared key, never a role.
        ("POST", "/api/v1/sms/inbound"): (
            Probe(
                "POST", "/api/v1/sms/inbound", {"msg_id": "m-1", "from": "13977712345", "text": "5"}
            ),
            {name: "unauth" for name in PRINCIPALS},
        ),
        ("POST", "/api/v1/sms/delivery-reports"): (
            Probe("POST", "/api/v1/sms/delivery-reports", {"msg_id": "m-1", "status": "delivered"}),
            {name: "unauth" for name in PRINCIPALS},
        ),
        # D3, D4: the 12345 platform rates a case by key press as a business system.
        ("POST", "/api/v1/hotline/ratings"): (
            Probe("POST", "/api/v1/hotline/ratings", {"case_no": "M-1", "key": 4}),
            _expect(*CLIENTS),
        ),
        # D2, D3: the business system asks for the rating link / dynamic QR of its occasion.
        ("POST", "/api/v1/occasions/{occasion_id}/link"): (
            Probe("POST", f"/api/v1/occasions/{occasion_id}/link", {"via": "sms"}),
            _expect(*CLIENTS),
        ),
        ("GET", "/api/v1/occasions/{occasion_id}/qr.png"): (
            Probe("GET", f"/api/v1/occasions/{occasion_id}/qr.png"),
            _expect(*CLIENTS),
        ),
        ("GET", "/api/v1/occasions/{occasion_id}/qr.svg"): (
            Probe("GET", f"/api/v1/occasions/{occasion_id}/qr.svg"),
            _expect(*CLIENTS),
        ),
        # D3: the counter rating device (评价器): the window's business system or its clerk
        # signals the end of a service and learns only whether it was rated (C10).
        ("POST", "/api/v1/windows/{window_code}/service-ended"): (
            Probe("POST", "/api/v1/windows/W1/service-ended", {"case_no": "M-1"}),
            _expect({"client_in", "staff_in"}, {"client_out", "staff_out"}),
        ),
        ("GET", "/api/v1/device-signals/{signal_id}"): (
            Probe("GET", f"/api/v1/device-signals/{world.signal_id}"),
            _expect({"client_in", "staff_in"}, {"client_out", "staff_out"}),
        ),
    }


@dataclass
class World:
    app: Any
    callers: dict[str, dict[str, Any]]
    occasion_id: int
    evaluation_id: int
    order_no: str = ""
    review_id: int = 0
    attachment_id: int = 0
    org_id: int = 0
    signal_id: int = 0
    callback_sample_id: int = 0
    callback_item_id: int = 0
    remark_no: str = ""


@pytest.fixture
def world(committed_db: Database) -> Iterator[World]:
    with committed_db.transaction() as session:
        org_id = make_catalog(session)["orgs"]["O1"].id
    app = create_app(committed_db, clock=lambda: NOW, tick_interval=0)
    callers: dict[str, dict[str, Any]] = {}
    for name, grants in PRINCIPALS.items():
        if not grants:
            callers[name] = {}
        elif grants[0].startswith("client:"):
            issued = add_business_client(
                committed_db, code=name, regions=[grants[0].split(":", 1)[1]], now=NOW
            )
            callers[name] = {
                "auth": SignedAuth(issued.client, issued.kid, issued.secret, clock=lambda: NOW)
            }
        else:
            official = add_official(committed_db, name.replace("_", "-"), *grants, now=NOW)
            callers[name] = {"headers": official.headers()}
    with TestClient(app, raise_server_exceptions=False) as tc:
        r = tc.post(
            "/api/v1/cases",
            json={
                "case_no": "M-1",
                "item_code": "I-IMM",
                "handling": "window",
                "staff_code": "S1",
                "window_code": "W1",
                "applicant": APPLICANT,
                "accepted_at": T0.isoformat(),
                "completed_at": T0.isoformat(),
            },
            **callers["client_in"],
        )
        assert r.status_code == 201, r.text
        occasion_id = r.json()["occasions"][0]["id"]
        r = tc.post(
            "/api/v1/windows/W1/service-ended", json={"case_no": "M-1"}, **callers["client_in"]
        )
        assert r.status_code == 202, r.text
        signal_id = r.json()["signal_id"]
        r = tc.post(
            "/api/v1/evaluations",
            json={"occasion_id": occasion_id, "level": 2, "channel": 4, "text": "等候时间过长"},
            **callers["client_in"],
        )
        assert r.status_code == 201, r.text
        evaluation_id = r.json()["id"]
        # The bad review opened its work order and its text review (F4, E1).
        r = tc.get("/api/v1/work-orders", **callers["sup_in"])
        (order,) = r.json()["items"]
        r = tc.post(
            f"/api/v1/work-orders/{order['order_no']}/attachments",
            files={"file": ("photo.png", PNG, "image/png")},
            **callers["sup_in"],
        )
        assert r.status_code == 201, r.text
        attachment_id = r.json()["id"]
        (review,) = tc.get("/api/v1/text-reviews", **callers["sup_in"]).json()["items"]
        # D2: a callback sample of the rated evaluation, whose rater denied having rated.
        r = tc.post(
            "/api/v1/callbacks/samples",
            json={"region": "450224", "size": 1},
            **callers["sup_in"],
        )
        assert r.status_code == 201, r.text
        callback_sample_id = r.json()["id"]
        callback_item_id = r.json()["items"][0]["id"]
        r = tc.post(
            f"/api/v1/callbacks/items/{callback_item_id}/outcome",
            json={"result": "denied"},
            **callers["sup_in"],
        )
        assert r.status_code == 200, r.text
        # 综合点评 (D2, D3): one transferred by the 12345 platform, routed to O1.
        r = tc.post("/api/v1/remarks", json=REMARK, **callers["client_in"])
        assert r.status_code == 201, r.text
        remark_no = r.json()["remark_no"]
        r = tc.post(
            f"/api/v1/remarks/{remark_no}/route",
            json={"org_code": "O1", "category": "suggestion"},
            **callers["sup_in"],
        )
        assert r.status_code == 200, r.text
        yield World(
            app,
            callers,
            occasion_id,
            evaluation_id,
            order["order_no"],
            review["id"],
            attachment_id,
            org_id,
            signal_id,
            callback_sample_id,
            callback_item_id,
            remark_no,
        )


def _outcome(response: httpx.Response, probe: Probe) -> str:
    status = response.status_code
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else None
    )
    code = body.get("code") if isinstance(body, dict) else None
    if status == 401:
        return "unauth"
    if status == 404 or (status == 403 and code == "out_of_scope"):
        return "out"
    if status == 403 and code == "workorder_not_your_step":
        # Past the access check: the procedure gives this step to another party.
        return "ok"
    if status == 403:
        return "denied"
    if 200 <= status < 300:
        return "out" if probe.empty(response) else "ok"
    if status in (409, 422):
        # Past the access check: refused by the rules of the domain (already rated…).
        return "ok"
    return f"unexpected {status}: {response.text[:200]}"


def _routes(app: Any) -> list[tuple[str, str, Any]]:
    found = []
    for route in api_routes(app):
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                found.append((method, route.path, route))
    return found


def test_every_route_declares_exactly_one_access_rule(committed_db: Database) -> None:
    app = create_app(committed_db, tick_interval=0)
    missing = [f"{m} {p}" for m, p, r in _routes(app) if len(route_rules(r)) != 1]
    assert not missing, f"routes without exactly one access rule: {missing}"


def test_every_public_route_is_rate_limited(committed_db: Database) -> None:
    app = create_app(committed_db, tick_interval=0)
    unlimited = [
        f"{m} {p}"
        for m, p, r in _routes(app)
        if any(isinstance(rule, Public) for rule in route_rules(r)) and not route_rate_limits(r)
    ]
    assert not unlimited, f"public routes without a rate limit: {unlimited}"


def test_matrix_covers_every_api_route(world: World) -> None:
    table = matrix(world)
    api = {(m, p) for m, p, r in _routes(world.app) if p.startswith("/api/")}
    assert api == set(table), f"add to MATRIX: {api - set(table)}; stale: {set(table) - api}"


def test_each_role_inside_and_outside_its_scope(world: World) -> None:
    table = matrix(world)
    rules = {(m, p): route_rules(r)[0] for m, p, r in _routes(world.app) if (m, p) in table}
    failures = []
    with TestClient(world.app, raise_server_exceptions=False) as tc:
        for key, (probe, expected) in table.items():
            rule = rules[key]
            assert isinstance(rule, (Public, Requires, GatewaySigned))
            for name in PRINCIPALS:
                if probe.files is not None:
                    response = tc.request(
                        probe.method, probe.path, files=probe.files, **world.callers[name]
                    )
                else:
                    response = tc.request(
                        probe.method, probe.path, json=probe.body, **world.callers[name]
                    )
                got = _outcome(response, probe)
                if got != expected[name]:
                    failures.append(
                        f"{key[0]} {key[1]} as {name}: {got}, expected {expected[name]}"
                    )
    assert not failures, "\n".join(failures)


def test_console_pages_need_a_session_whatever_the_role(world: World) -> None:
    """Console routes: the login page is public; every other page sends an anonymous caller
    (or a business system, which has no session) to the login page, and opens for every
    official whatever the role."""
    console = {(m, p) for m, p, _ in _routes(world.app) if p.startswith("/console")}
    assert ("GET", "/console/login") in console and ("GET", "/console/") in console
    with TestClient(world.app, raise_server_exceptions=False, follow_redirects=False) as tc:
        for name, caller in world.callers.items():
            for path in ("/console/", "/console/password"):
                r = tc.get(path, **caller)
                if name == "anonymous" or name.startswith("client"):
                    assert r.status_code == 303 and r.headers["location"].endswith("/login")
                else:
                    assert r.status_code == 200, (name, path, r.status_code)
            assert tc.get("/console/login").status_code == 200
