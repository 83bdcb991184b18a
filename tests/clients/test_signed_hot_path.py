"""The signed-request hot path (issue 2): credentials cached per process and forgotten at once
on rotation and revocation in this process, within ``CREDENTIAL_CACHE_SECONDS`` elsewhere; the
nonce spent in the route's own transaction (one COMMIT), and replays refused all the same."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, update

from haochaping.app import create_app
from haochaping.clients import service as clients
from haochaping.clients.models import BusinessClient, UsedNonce
from haochaping.clients.signing import sign_headers
from haochaping.db import Database
from haochaping.evaluations.models import Evaluation
from tests.api_clients import add_business_client
from tests.factories import T0, make_catalog

NOW = T0 + timedelta(hours=1)


@pytest.fixture
def api(committed_db: Database) -> Iterator[TestClient]:
    with committed_db.transaction() as session:
        make_catalog(session)
    app = create_app(committed_db, clock=lambda: NOW, tick_interval=0)
    with TestClient(app, raise_server_exceptions=False) as tc:
        yield tc


def post(
    api: TestClient,
    issued: clients.IssuedKey,
    path: str,
    body: dict[str, Any],
    *,
    nonce: str | None = None,
    now: datetime = NOW,
) -> Any:
    raw = json.dumps(body).encode()
    headers = sign_headers(
        client=issued.client,
        kid=issued.kid,
        secret=issued.secret,
        method="POST",
        path=path,
        body=raw,
        now=now,
        nonce=nonce,
    )
    headers["Content-Type"] = "application/json"
    return api.post(path, content=raw, headers=headers)


def new_case(api: TestClient, issued: clients.IssuedKey, case_no: str) -> int:
    """Register a case; the id of its (only) occasion."""
    body = {
        "case_no": case_no,
        "item_code": "I-IMM",
        "handling": "window",
        "applicant": {"type": "person", "name": "赵六", "phone": "13600001111"},
        "accepted_at": T0.isoformat(),
        "completed_at": T0.isoformat(),
    }
    r = post(api, issued, "/api/v1/cases", body)
    assert r.status_code == 201, r.text
    occasion_id: int = r.json()["occasions"][0]["id"]
    return occasion_id


def rating(occasion_id: int, level: int = 5) -> dict[str, Any]:
    return {"occasion_id": occasion_id, "level": level, "channel": 4}


def nonces(db: Database) -> set[str]:
    with db.transaction() as session:
        return set(session.scalars(select(UsedNonce.nonce)))


def evaluations(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Evaluation)) or 0)


def test_a_cached_signed_rating_commits_once(api: TestClient, committed_db: Database) -> None:
    issued = add_business_client(committed_db, now=NOW)
    first, second = new_case(api, issued, "HOT-1"), new_case(api, issued, "HOT-2")
    assert post(api, issued, "/api/v1/evaluations", rating(first)).status_code == 201
    commits: list[str] = []
    listener = lambda *_: commits.append("commit")  # noqa: E731
    event.listen(committed_db.engine, "commit", listener)
    try:
        r = post(api, issued, "/api/v1/evaluations", rating(second), nonce="one-commit-0001")
    finally:
        event.remove(committed_db.engine, "commit", listener)
    assert r.status_code == 201, r.text
    # The nonce and the evaluation in one transaction: one WAL flush per rating.
    assert commits == ["commit"]
    assert "one-commit-0001" in nonces(committed_db)


def test_a_replayed_rating_is_refused_on_the_cached_path(
    api: TestClient, committed_db: Database
) -> None:
    issued = add_business_client(committed_db, now=NOW)
    first, second = new_case(api, issued, "RP-1"), new_case(api, issued, "RP-2")
    assert post(api, issued, "/api/v1/evaluations", rating(first)).status_code == 201
    r = post(api, issued, "/api/v1/evaluations", rating(second), nonce="replay-00000001")
    assert r.status_code == 201
    again = post(api, issued, "/api/v1/evaluations", rating(second), nonce="replay-00000001")
    assert again.status_code == 401 and again.json()["code"] == "nonce_reused"
    assert evaluations(committed_db) == 2


def test_a_failed_request_spends_its_nonce(api: TestClient, committed_db: Database) -> None:
    """A refused rating leaves nothing but its nonce: replaying it later, when it could
    succeed, is still a replay."""
    issued = add_business_client(committed_db, now=NOW)
    occasion = new_case(api, issued, "FAIL-1")
    missing = occasion + 1000
    r = post(api, issued, "/api/v1/evaluations", rating(missing), nonce="failed-00000001")
    assert r.status_code == 404 and r.json()["code"] == "occasion_not_found"
    assert "failed-00000001" in nonces(committed_db)
    r = post(api, issued, "/api/v1/evaluations", rating(occasion), nonce="failed-00000001")
    assert r.status_code == 401 and r.json()["code"] == "nonce_reused"
    assert evaluations(committed_db) == 0
    # A refused bulk item does not make the replay of the whole request pass either.
    bulk = {"items": [rating(occasion), rating(missing)]}
    r = post(api, issued, "/api/v1/evaluations/bulk", bulk, nonce="bulk-nonce-0001")
    assert r.status_code == 200 and r.json()["accepted"] == 1
    r = post(api, issued, "/api/v1/evaluations/bulk", bulk, nonce="bulk-nonce-0001")
    assert r.status_code == 401 and r.json()["code"] == "nonce_reused"
    assert evaluations(committed_db) == 1


def test_a_replay_is_never_committed_even_by_a_route_that_swallows_refusals(
    api: TestClient, committed_db: Database
) -> None:
    """Rating by case number, the bulk route's first query runs inside its per-item error
    handling: the replay refusal must still end the request and store nothing."""
    issued = add_business_client(committed_db, now=NOW)
    new_case(api, issued, "SW-1")
    new_case(api, issued, "SW-2")
    body = {"items": [{"case_no": "SW-1", "level": 5, "channel": 4}]}
    assert post(api, issued, "/api/v1/evaluations/bulk", body).status_code == 200
    r = post(api, issued, "/api/v1/evaluations/bulk", body, nonce="swallow-0000001")
    assert r.status_code == 200
    replay = {"items": [{"case_no": "SW-2", "level": 5, "channel": 4}]}
    # Same nonce, another body signed afresh: the nonce alone decides.
    r = post(api, issued, "/api/v1/evaluations/bulk", replay, nonce="swallow-0000001")
    assert r.status_code == 401 and r.json()["code"] == "nonce_reused"
    assert evaluations(committed_db) == 1


def test_revocation_forgets_the_cached_key_at_once(api: TestClient, committed_db: Database) -> None:
    issued = add_business_client(committed_db, now=NOW)
    occasion = new_case(api, issued, "REVC-1")
    signed = clients.check_headers(
        {
            k.lower(): v
            for k, v in sign_headers(
                client=issued.client,
                kid=issued.kid,
                secret="x" * 20,
                method="GET",
                path="/",
                now=NOW,
            ).items()
        },
        now=NOW,
    )
    database = str(committed_db.engine.url)
    assert clients.cached_credential(database, signed) is not None
    with committed_db.transaction() as session:
        clients.revoke(session, code=issued.client, kid=issued.kid, now=NOW, actor="cli:test")
        # Forgotten before the commit already, and again after it.
        assert clients.cached_credential(database, signed) is None
    assert clients.cached_credential(database, signed) is None
    r = post(api, issued, "/api/v1/evaluations", rating(occasion))
    assert r.status_code == 401 and r.json()["code"] == "credential_revoked"
    assert evaluations(committed_db) == 0


def test_rotation_forgets_the_cached_key_at_once(api: TestClient, committed_db: Database) -> None:
    old = add_business_client(committed_db, now=NOW)
    occasion = new_case(api, old, "ROTC-1")
    with committed_db.transaction() as session:
        # No overlap: the old key ends now.
        clients.rotate_key(session, code=old.client, overlap=timedelta(0), now=NOW, actor="t")
    r = post(api, old, "/api/v1/evaluations", rating(occasion))
    assert r.status_code == 401 and r.json()["code"] == "key_expired"


def test_a_change_made_by_another_process_is_seen_after_the_ttl(
    api: TestClient, committed_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process (the CLI, another worker) revokes: this one keeps its cached key for at
    most ``CREDENTIAL_CACHE_SECONDS``."""
    issued = add_business_client(committed_db, now=NOW)
    first, second = new_case(api, issued, "TTL-1"), new_case(api, issued, "TTL-2")
    with committed_db.transaction() as session:
        # Behind this process's back, as another process would.
        session.execute(update(BusinessClient).values(revoked_at=NOW))
    assert clients.CREDENTIAL_CACHE_SECONDS <= 30
    assert post(api, issued, "/api/v1/evaluations", rating(first)).status_code == 201
    monkeypatch.setattr(clients, "CREDENTIAL_CACHE_SECONDS", 0.0)  # the TTL has passed
    r = post(api, issued, "/api/v1/evaluations", rating(second))
    assert r.status_code == 401 and r.json()["code"] == "credential_revoked"


def test_a_key_read_before_a_revocation_is_not_cached(committed_db: Database) -> None:
    """A request that read the key just before a revocation in this process committed must not
    leave the unrevoked copy in the cache."""
    with committed_db.transaction() as session:
        make_catalog(session)
    issued = add_business_client(committed_db, now=NOW)
    headers = sign_headers(
        client=issued.client,
        kid=issued.kid,
        secret=issued.secret,
        method="GET",
        path="/",
        now=NOW,
    )
    signed = clients.check_headers({k.lower(): v for k, v in headers.items()}, now=NOW)

    def revoked_meanwhile(*_: Any) -> None:
        clients.invalidate_credentials()

    event.listen(committed_db.engine, "after_cursor_execute", revoked_meanwhile, once=True)
    with committed_db.transaction() as session:
        assert clients.load_credential(session, signed) is not None
    assert clients.cached_credential(str(committed_db.engine.url), signed) is None
    with committed_db.transaction() as session:
        clients.load_credential(session, signed)
    assert clients.cached_credential(str(committed_db.engine.url), signed) is not None


def test_a_copy_in_flight_is_refused_once_the_first_commits(
    api: TestClient, committed_db: Database
) -> None:
    """Two copies of one request at once: the second waits for the first's nonce and is
    refused when it commits."""
    issued = add_business_client(committed_db, now=NOW)
    occasion = new_case(api, issued, "CONC-1")
    answers: list[Any] = []
    with committed_db.transaction() as first:
        client_id = first.scalar(
            select(BusinessClient.id).where(BusinessClient.code == issued.client)
        )
        assert client_id is not None
        assert clients.spend_nonce(first.connection(), client_id, "in-flight-00001", NOW)
        copy = threading.Thread(
            target=lambda: answers.append(
                post(api, issued, "/api/v1/evaluations", rating(occasion), nonce="in-flight-00001")
            )
        )
        copy.start()
        copy.join(timeout=1.0)
        assert copy.is_alive()  # waiting for the first copy's transaction
    copy.join(timeout=30)
    assert answers and answers[0].status_code == 401
    assert answers[0].json()["code"] == "nonce_reused"
    assert evaluations(committed_db) == 0


def test_a_replayed_idempotent_rating_is_refused(api: TestClient, committed_db: Database) -> None:
    """With an Idempotency-Key the rating runs in a savepoint: releasing it is not the commit
    that spends the nonce, and a replay is still refused (not answered from the key)."""
    issued = add_business_client(committed_db, now=NOW)
    occasion = new_case(api, issued, "IDR-1")
    raw = json.dumps(rating(occasion)).encode()

    def submit() -> Any:
        headers = sign_headers(
            client=issued.client,
            kid=issued.kid,
            secret=issued.secret,
            method="POST",
            path="/api/v1/evaluations",
            body=raw,
            now=NOW,
            nonce="idem-replay-0001",
        )
        headers.update({"Content-Type": "application/json", "Idempotency-Key": "idr-key-1"})
        return api.post("/api/v1/evaluations", content=raw, headers=headers)

    assert submit().status_code == 201
    assert "idem-replay-0001" in nonces(committed_db)
    r = submit()
    assert r.status_code == 401 and r.json()["code"] == "nonce_reused"
    assert evaluations(committed_db) == 1
