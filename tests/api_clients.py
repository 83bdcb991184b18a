"""Signed business-system callers and logged-in officials for API tests (issue 3)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from fastapi.testclient import TestClient

from haochaping.accounts import service as accounts
from haochaping.clients import service as clients
from haochaping.clients.signing import SignedAuth
from haochaping.db import Database

# Every region of tests.factories.make_catalog.
ALL_REGIONS = ("450000", "420000", "370000")


def add_business_client(
    db: Database,
    *,
    code: str = "TEST-SYS",
    regions: Sequence[str] = ALL_REGIONS,
    orgs: Sequence[str] = (),
    now: datetime,
) -> clients.IssuedKey:
    with db.transaction() as session:
        return clients.create_client(
            session,
            code=code,
            name="测试业务系统",
            org_codes=list(orgs),
            region_codes=list(regions),
            now=now,
            actor="cli:test",
        )


def sign_as(
    client: TestClient, issued: clients.IssuedKey, clock: Callable[[], datetime]
) -> TestClient:
    """Make every request of ``client`` a signed request of ``issued``."""
    client.auth = SignedAuth(issued.client, issued.kid, issued.secret, clock=clock)
    return client


@dataclass(frozen=True)
class Official:
    username: str
    token: str
    csrf: str

    def headers(self) -> dict[str, str]:
        """Cookie and CSRF header of this official's console session."""
        return {"Cookie": f"hcp_session={self.token}", "X-CSRF-Token": self.csrf}


def add_official(db: Database, username: str, *grants: str, now: datetime) -> Official:
    """An official with ``grants`` (``supervisor:450224``, ``admin``…) who has changed the
    initial password and holds a console session."""
    with db.transaction() as session:
        user, _ = accounts.create_user(
            session, username=username, display_name=username, now=now, actor="cli:test"
        )
        for spec in grants:
            role, scope = accounts.parse_grant_spec(spec)
            accounts.grant_role(
                session, user=user, role=role, scope_code=scope, now=now, actor="cli:test"
            )
        user.must_change_password = False
        token, login = accounts.start_session(session, user=user, now=now)
        return Official(username, token, login.csrf_token)
