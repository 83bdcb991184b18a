"""The HTTP contract: upsert, rate, 409 on a second rating, idempotent retries, bulk, follow-up,
lists, scores, and clear Chinese errors, never a 500."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from haochaping.app import create_app
from haochaping.db import Database
from tests.api_clients import add_business_client, add_official, sign_as
from tests.factories import T0, make_catalog

NOW = T0 + timedelta(hours=1)


@pytest.fixture
def client(committed_db: Database) -> Iterator[TestClient]:
    with committed_db.transaction() as session:
        make_catalog(session)
    issued = add_business_client(committed_db, now=NOW)
    app = create_app(committed_db, clock=lambda: NOW, tick_interval=0)
    with TestClient(app, raise_server_exceptions=False) as c:
        yield sign_as(c, issued, lambda: NOW)


@pytest.fixture
def admin_headers(client: TestClient, committed_db: Database) -> dict[str, str]:
    return add_official(committed_db, "admin1", "admin", now=NOW).headers()


def case_body(case_no: str, **kw: Any) -> dict[str, Any]:
    body = {
        "case_no": case_no,
        "item_code": "I-IMM",
        "handling": "window",
        "staff_code": "S1",
        "window_code": "W1",
        "applicant": {
            "type": "person",
            "name": "李四",
            "id_type": "身份证",
            "id_no": "450224199001011234",
            "phone": "13812348000",
        },
        "accepted_at": T0.isoformat(),
        "completed_at": T0.isoformat(),
    }
    body.update(kw)
    return body


def occasion_id(client: TestClient, case_no: str, **kw: Any) -> int:
    r = client.post("/api/v1/cases", json=case_body(case_no, **kw))
    assert r.status_code in (200, 201), r.text
    return int(r.json()["occasions"][0]["id"])


def test_case_upsert_and_read_masks_personal_data(client: TestClient) -> None:
    r = client.post("/api/v1/cases", json=case_body("API-1"))
    assert r.status_code == 201 and r.json()["created"] is True
    r = client.post("/api/v1/cases", json=case_body("API-1"))
    assert r.status_code == 200 and r.json()["created"] is False
    got = client.get("/api/v1/cases/API-1").json()
    assert got["applicant"]["phone"] == "138****8000"
    assert got["applicant"]["id_no"] == "4502**********1234"
    assert got["applicant"]["name"] == "李*"
    assert "13812348000" not in client.get("/api/v1/cases/API-1").text
    assert got["window_code"] == "W1" and got["occasions"][0]["status"] == "open"


def test_C1_second_rating_gets_409_with_stable_code(client: TestClient) -> None:
    oid = occasion_id(client, "API-2")
    body = {"occasion_id": oid, "level": 5, "channel": 4}
    first = client.post("/api/v1/evaluations", json=body)
    assert first.status_code == 201 and first.json()["score"] == 10
    second = client.post("/api/v1/evaluations", json={**body, "level": 1, "text": "x"})
    assert second.status_code == 409
    assert second.json()["code"] == "already_evaluated"
    assert "只能评价一次" in second.json()["message"]


def test_idempotency_key_returns_the_first_result(client: TestClient) -> None:
    oid = occasion_id(client, "API-3")
    body = {"occasion_id": oid, "level": 4, "channel": 2}
    headers = {"Idempotency-Key": "req-api-3"}
    a = client.post("/api/v1/evaluations", json=body, headers=headers)
    b = client.post("/api/v1/evaluations", json=body, headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json() == b.json()
    other = client.post("/api/v1/evaluations", json={**body, "level": 3}, headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_key_reused"


def test_concurrent_submissions_one_wins_others_409(client: TestClient) -> None:
    oid = occasion_id(client, "API-4")
    codes: list[int] = []
    barrier = threading.Barrier(6)

    def send(level: int) -> None:
        barrier.wait()
        r = client.post(
            "/api/v1/evaluations", json={"occasion_id": oid, "level": level, "channel": 3}
        )
        codes.append(r.status_code)

    threads = [threading.Thread(target=send, args=(3 + i % 3,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [201, 409, 409, 409, 409, 409]


def test_concurrent_retries_with_one_key_store_one_evaluation(client: TestClient) -> None:
    oid = occasion_id(client, "API-5")
    answers: list[tuple[int, Any]] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        barrier.wait()
        r = client.post(
            "/api/v1/evaluations",
            json={"occasion_id": oid, "level": 5, "channel": 1},
            headers={"Idempotency-Key": "same-key"},
        )
        answers.append((r.status_code, r.json().get("id")))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = {i for code, i in answers if code == 201}
    assert len(ids) == 1
    listed = client.get("/api/v1/evaluations", params={"case_no": "API-5"}).json()
    assert listed["total"] == 1


def test_bulk_reports_each_item(client: TestClient) -> None:
    good = occasion_id(client, "API-6")
    bad_review = occasion_id(client, "API-7")
    r = client.post(
        "/api/v1/evaluations/bulk",
        json={
            "items": [
                {"occasion_id": good, "level": 5, "channel": 4},
                {"occasion_id": bad_review, "level": 1, "channel": 4},
                {"occasion_id": good, "level": 4, "channel": 4},
                {"case_no": "NO-SUCH", "level": 4, "channel": 4},
            ]
        },
    )
    assert r.status_code == 200
    out = r.json()
    assert (out["accepted"], out["rejected"]) == (1, 3)
    codes = [x["code"] for x in out["results"]]
    assert codes == [None, "bad_review_reason_required", "already_evaluated", "case_not_found"]


def test_follow_up_and_lists(client: TestClient, admin_headers: dict[str, str]) -> None:
    oid = occasion_id(client, "API-8")
    eid = client.post(
        "/api/v1/evaluations",
        json={"occasion_id": oid, "level": 2, "label_codes": ["attitude.3"], "channel": 3},
    ).json()["id"]
    r = client.post(
        f"/api/v1/evaluations/{eid}/follow-up", json={"text": "已电话沟通", "channel": 6}
    )
    assert r.status_code == 201
    r = client.post(f"/api/v1/evaluations/{eid}/follow-up", json={"text": "再次", "channel": 6})
    assert r.status_code == 409 and r.json()["code"] == "follow_up_exists"
    listed = client.get("/api/v1/evaluations", params={"org": "O1", "level": 2}).json()
    assert listed["total"] == 1 and listed["items"][0]["follow_up"]["text"] == "已电话沟通"
    assert listed["items"][0]["label_names"] == ["工作人员服务态度生硬"]
    assert client.get("/api/v1/evaluations", params={"org": "O2"}).json()["total"] == 0
    assert client.get("/api/v1/evaluations", params={"region": "450200"}).json()["total"] == 1
    # Scores are for officials, not for business systems.
    scores = client.get(
        "/api/v1/scores", params={"dimension": "staff"}, headers=admin_headers, auth=None
    ).json()
    assert scores["items"][0]["code"] == "S1" and scores["items"][0]["all"]["average"] == 3


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "/api/v1/cases", {"case_no": "X"}, 422, "invalid_request"),
        ("post", "/api/v1/cases", None, 422, "invalid_request"),
        (
            "post",
            "/api/v1/evaluations",
            {"occasion_id": 999999, "level": 5, "channel": 4},
            404,
            "occasion_not_found",
        ),
        (
            "post",
            "/api/v1/evaluations",
            {"occasion_id": 1, "level": 9, "channel": 4},
            422,
            "invalid_request",
        ),
        (
            "post",
            "/api/v1/evaluations",
            {"occasion_id": 1, "level": 5, "channel": 99},
            422,
            "invalid_request",
        ),
        ("get", "/api/v1/cases/NOPE", None, 404, "case_not_found"),
        ("get", "/api/v1/scores?dimension=planet", None, 422, "invalid_request"),
        ("get", "/api/v1/scores?dimension=region&region=999999", None, 404, "region_not_found"),
        ("get", "/api/v1/evaluations?org=NOPE", None, 404, "org_not_found"),
        ("get", "/api/v1/nowhere", None, 404, "not_found"),
        (
            "post",
            "/api/v1/cases",
            {**case_body("NUL\x00"), "case_no": "A\x00B"},
            422,
            "invalid_request",
        ),
        (
            "post",
            "/api/v1/evaluations",
            {"occasion_id": 2**40, "level": 5, "channel": 4},
            422,
            "invalid_request",
        ),
        ("get", "/api/v1/evaluations/99999999999999", None, 422, "invalid_request"),
        (
            "post",
            "/api/v1/evaluations",
            {"case_no": "X", "level": 5, "channel": 4, "extra": 1},
            422,
            "invalid_request",
        ),
        (
            "post",
            "/api/v1/evaluations/1/follow-up",
            {"text": "x", "channel": 1},
            404,
            "evaluation_not_found",
        ),
    ],
)
def test_bad_input_gets_a_clear_error(
    client: TestClient,
    admin_headers: dict[str, str],
    method: str,
    path: str,
    body: Any,
    status: int,
    code: str,
) -> None:
    if path.startswith("/api/v1/scores"):
        r = client.get(path, headers=admin_headers, auth=None)
    elif body is None and method == "post":
        r = client.post(path, content=b"{not json", headers={"content-type": "application/json"})
    else:
        r = getattr(client, method)(path, **({"json": body} if body is not None else {}))
    assert r.status_code == status, r.text
    assert r.json()["code"] == code
    assert r.json()["message"]
