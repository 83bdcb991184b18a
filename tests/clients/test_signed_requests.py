"""Business systems' signed requests (issue 3): wrong key, stale timestamp, replayed nonce,
rotation with two valid keys during the overlap, revocation, scope of writes; and the
``haochaping client`` commands."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from haochaping.app import create_app
from haochaping.audit.models import AuditEntry
from haochaping.cli import app as cli
from haochaping.clients import service as clients
from haochaping.clients.models import ClientKey, UsedNonce
from haochaping.clients.signing import sign_headers
from haochaping.config import get_settings
from haochaping.db import Database
from tests.api_clients import add_business_client
from tests.factories import T0, make_catalog

NOW = T0 + timedelta(hours=1)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def api(committed_db: Database, clock: Clock) -> Iterator[TestClient]:
    with committed_db.transaction() as session:
        make_catalog(session)
    app = create_app(committed_db, clock=clock, tick_interval=0)
    with TestClient(app, raise_server_exceptions=False) as tc:
        yield tc


def case_body(case_no: str, org_item: str = "I-IMM") -> dict[str, Any]:
    return {
        "case_no": case_no,
        "item_code": org_item,
        "handling": "window",
        "applicant": {"type": "person", "name": "赵六", "phone": "13600001111"},
        "accepted_at": T0.isoformat(),
        "completed_at": T0.isoformat(),
    }


def send(
    api: TestClient,
    issued: clients.IssuedKey,
    body: dict[str, Any],
    *,
    now: datetime = NOW,
    secret: str | None = None,
    kid: str | None = None,
    nonce: str | None = None,
    path: str = "/api/v1/cases",
) -> Any:
    raw = json.dumps(body).encode()
    headers = sign_headers(
        client=issued.client,
        kid=kid or issued.kid,
        secret=secret or issued.secret,
        method="POST",
        path=path,
        body=raw,
        now=now,
        nonce=nonce,
    )
    headers["Content-Type"] = "application/json"
    return api.post(path, content=raw, headers=headers)


def test_a_signed_request_is_accepted(api: TestClient, committed_db: Database) -> None:
    issued = add_business_client(committed_db, now=NOW)
    r = send(api, issued, case_body("SIG-1"))
    assert r.status_code == 201, r.text


def test_unsigned_request_is_refused(api: TestClient) -> None:
    r = api.post("/api/v1/cases", json=case_body("SIG-0"))
    assert r.status_code == 401
    assert r.json()["code"] == "authentication_required"
    assert "登录" in r.json()["message"]


def test_wrong_key_is_refused(api: TestClient, committed_db: Database) -> None:
    issued = add_business_client(committed_db, now=NOW)
    r = send(api, issued, case_body("SIG-2"), secret="not-the-secret-at-all-0123456789")
    assert r.status_code == 401 and r.json()["code"] == "signature_invalid"
    # An unknown key id and an unknown client get the same answer: no oracle.
    r = send(api, issued, case_body("SIG-2"), kid="19990101-1")
    assert r.status_code == 401 and r.json()["code"] == "signature_invalid"


def test_tampered_body_is_refused(api: TestClient, committed_db: Database) -> None:
    issued = add_business_client(committed_db, now=NOW)
    raw = json.dumps(case_body("SIG-3")).encode()
    headers = sign_headers(
        client=issued.client,
        kid=issued.kid,
        secret=issued.secret,
        method="POST",
        path="/api/v1/cases",
        body=raw,
        now=NOW,
    )
    headers["Content-Type"] = "application/json"
    r = api.post("/api/v1/cases", content=raw.replace(b"SIG-3", b"SIG-4"), headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "signature_invalid"


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_stale_timestamp_is_refused(
    api: TestClient, committed_db: Database, skew: timedelta
) -> None:
    issued = add_business_client(committed_db, now=NOW)
    r = send(api, issued, case_body("SIG-5"), now=NOW + skew)
    assert r.status_code == 401 and r.json()["code"] == "timestamp_stale"
    # Within the tolerance it passes.
    r = send(api, issued, case_body("SIG-5"), now=NOW + skew / 2)
    assert r.status_code == 201, r.text


def test_replayed_nonce_is_refused(api: TestClient, committed_db: Database) -> None:
    issued = add_business_client(committed_db, now=NOW)
    assert send(api, issued, case_body("SIG-6"), nonce="nonce-0000001").status_code == 201
    r = send(api, issued, case_body("SIG-6"), nonce="nonce-0000001")
    assert r.status_code == 401 and r.json()["code"] == "nonce_reused"
    # A refused request spends no nonce; a GET (no commit of its own) spends one too.
    get = sign_headers(
        client=issued.client,
        kid=issued.kid,
        secret=issued.secret,
        method="GET",
        path="/api/v1/cases/SIG-6",
        now=NOW,
        nonce="nonce-0000002",
    )
    assert api.get("/api/v1/cases/SIG-6", headers=get).status_code == 200
    assert api.get("/api/v1/cases/SIG-6", headers=get).json()["code"] == "nonce_reused"


def test_old_nonces_are_purged(committed_db: Database) -> None:
    with committed_db.transaction() as session:
        make_catalog(session)
    issued = add_business_client(committed_db, now=NOW)
    with committed_db.transaction() as session:
        for n in range(3):
            clients.verify_request(
                session,
                headers={
                    k.lower(): v
                    for k, v in sign_headers(
                        client=issued.client,
                        kid=issued.kid,
                        secret=issued.secret,
                        method="GET",
                        path="/x",
                        now=NOW,
                        nonce=f"purge-nonce-{n}",
                    ).items()
                },
                method="GET",
                path="/x",
                body=b"",
                now=NOW,
            )
    with committed_db.transaction() as session:
        assert clients.purge_nonces(session, now=NOW + timedelta(minutes=5)) == 0
        assert clients.purge_nonces(session, now=NOW + timedelta(minutes=12)) == 3
        assert session.scalar(select(func.count()).select_from(UsedNonce)) == 0


def test_rotation_keeps_both_keys_valid_during_the_overlap(
    api: TestClient, committed_db: Database, clock: Clock
) -> None:
    old = add_business_client(committed_db, now=NOW)
    with committed_db.transaction() as session:
        new = clients.rotate_key(
            session, code=old.client, overlap=timedelta(hours=2), now=NOW, actor="cli:test"
        )
    assert new.kid != old.kid
    # During the overlap both keys sign valid requests.
    assert send(api, old, case_body("ROT-1")).status_code == 201
    assert send(api, new, case_body("ROT-2")).status_code == 201
    # After it, only the new one.
    later = NOW + timedelta(hours=2, minutes=1)
    clock.at = later
    r = send(api, old, case_body("ROT-3"), now=later)
    assert r.status_code == 401 and r.json()["code"] == "key_expired"
    assert send(api, new, case_body("ROT-4"), now=later).status_code == 201


def test_revocation_is_immediate(api: TestClient, committed_db: Database) -> None:
    issued = add_business_client(committed_db, now=NOW)
    assert send(api, issued, case_body("REV-1")).status_code == 201
    with committed_db.transaction() as session:
        clients.revoke(session, code=issued.client, kid=None, now=NOW, actor="cli:test")
    r = send(api, issued, case_body("REV-2"))
    assert r.status_code == 401 and r.json()["code"] == "credential_revoked"


def test_a_client_writes_only_inside_its_scope(api: TestClient, committed_db: Database) -> None:
    # Serves 融安县 (450224) only: 柳州市公安局 (O3, 450200) is outside.
    issued = add_business_client(committed_db, code="RA-SYS", regions=["450224"], now=NOW)
    assert send(api, issued, case_body("SC-1", "I-IMM")).status_code == 201
    r = send(api, issued, case_body("SC-2", "I-O3"))
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"
    # Another system cannot take over a case registered outside its scope either.
    other = add_business_client(committed_db, code="LZ-SYS", regions=["450200"], now=NOW)
    assert send(api, other, case_body("SC-3", "I-O3")).status_code == 201
    r = send(api, issued, case_body("SC-3", "I-IMM"))
    assert r.status_code == 403 and r.json()["code"] == "out_of_scope"


def test_idempotency_keys_belong_to_their_client(api: TestClient, committed_db: Database) -> None:
    a = add_business_client(committed_db, code="SYS-A", now=NOW)
    b = add_business_client(committed_db, code="SYS-B", now=NOW)
    occasion = send(api, a, case_body("IDEM-1")).json()["occasions"][0]["id"]
    rating = {"occasion_id": occasion, "level": 5, "channel": 4}
    raw = json.dumps(rating).encode()

    def submit(who: clients.IssuedKey) -> Any:
        headers = sign_headers(
            client=who.client,
            kid=who.kid,
            secret=who.secret,
            method="POST",
            path="/api/v1/evaluations",
            body=raw,
            now=NOW,
        )
        headers.update({"Content-Type": "application/json", "Idempotency-Key": "same-key"})
        return api.post("/api/v1/evaluations", content=raw, headers=headers)

    assert submit(a).status_code == 201
    # B's identical key is B's own: it does not replay A's answer, it gets its own 409.
    r = submit(b)
    assert r.status_code == 409 and r.json()["code"] == "already_evaluated"


def _cli(db: Database, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("HCP_DATABASE_URL", str(db.engine.url.render_as_string(False)))
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, list(args))
    finally:
        get_settings.cache_clear()


def test_client_commands(committed_db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    with committed_db.transaction() as session:
        make_catalog(session)
    r = _cli(
        committed_db,
        monkeypatch,
        "client",
        "add",
        "GX-YTH",
        "--name",
        "一体化平台",
        "--region",
        "450224",
        "--org",
        "O3",
    )
    assert r.exit_code == 0, r.output
    secret = re.search(r"密钥（仅显示这一次[^）]*）：(\S+)", r.output)
    assert secret is not None
    r = _cli(committed_db, monkeypatch, "client", "rotate", "GX-YTH", "--overlap-hours", "1")
    assert r.exit_code == 0 and "旧密钥有效至" in r.output, r.output
    r = _cli(committed_db, monkeypatch, "client", "list")
    assert r.exit_code == 0 and "GX-YTH" in r.output and "有效至" in r.output
    # The secret is never printed again, nor stored in clear.
    assert secret.group(1) not in r.output
    with committed_db.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT secret FROM client_keys").scalars().all()
    assert stored and all(s.startswith("sm4gcm:") and secret.group(1) not in s for s in stored)
    r = _cli(committed_db, monkeypatch, "client", "revoke", "GX-YTH")
    assert r.exit_code == 0, r.output
    r = _cli(committed_db, monkeypatch, "client", "revoke", "NOPE")
    assert r.exit_code == 1 and "client_not_found" in r.output
    r = _cli(committed_db, monkeypatch, "client", "add", "X", "--region", "450224")
    assert r.exit_code == 1 and "invalid_client_code" in r.output
    with committed_db.transaction() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
        keys = session.scalars(select(ClientKey)).all()
    assert actions == ["client_created", "client_key_rotated", "client_revoked"]
    assert all(k.revoked_at is not None for k in keys)
