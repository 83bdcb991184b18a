"""The access rule of every route, as a FastAPI dependency that also names the rule.

Each route declares exactly one rule: ``Public("why")`` for an entry point open to everyone
(rate limited), or ``Requires(permission)``, which identifies the caller (a signed business
system or a console session) and refuses anyone without the permission. The permission-matrix
test walks every route and fails on a route that declares none.
"""

from __future__ import annotations

import hmac
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access import nonces
from haochaping.access import scope as scope_module
from haochaping.access.principal import (
    CLIENT_PERMISSIONS,
    ROLE_PERMISSIONS,
    Grant,
    Permission,
    Principal,
)
from haochaping.access.scope import Scope, scope_of
from haochaping.accounts import service as accounts
from haochaping.accounts.models import Role, RoleGrant
from haochaping.clients import service as clients
from haochaping.clients import signing
from haochaping.db import database_key
from haochaping.errors import DomainError
from haochaping.protection.proxies import client_ip
from haochaping.web import NowDep, SessionDep

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class Unauthenticated(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


def principal_for_user(session: Session, *, user_id: int, username: str, ip: str) -> Principal:
    grants = session.scalars(select(RoleGrant).where(RoleGrant.user_id == user_id)).all()
    roles = frozenset(Role(g.role) for g in grants)
    permissions: frozenset[Permission] = frozenset().union(*(ROLE_PERMISSIONS[r] for r in roles))
    everything = Role.admin in roles
    regions = {
        g.region_code
        for g in grants
        if g.role in (Role.supervisor, Role.auditor, Role.leader) and g.region_code is not None
    }
    orgs = {g.org_id for g in grants if g.role == Role.org_manager and g.org_id is not None}
    staff = {g.staff_id for g in grants if g.role == Role.window_staff and g.staff_id is not None}
    unmask = {g.region_code for g in grants if g.role == Role.pii_viewer and g.region_code}
    return Principal(
        kind="user",
        id=user_id,
        name=username,
        permissions=permissions,
        scope=scope_of(
            session, everything=everything, region_codes=regions, org_ids=orgs, staff_ids=staff
        ),
        roles=roles,
        unmask_scope=scope_of(session, region_codes=unmask) if unmask else Scope.nothing(),
        ip=ip,
        grants=tuple(
            Grant(Role(g.role), region_code=g.region_code, org_id=g.org_id, staff_id=g.staff_id)
            for g in grants
        ),
    )


# A client's scope changes only when an administrator edits it: cached briefly per process,
# so that a signed request does not rebuild it (two queries) every time.
CLIENT_SCOPE_SECONDS = 60.0
_client_scopes: dict[tuple[str, int], tuple[float, Scope]] = {}


def cached_client_scope(database: str, client_id: int) -> Scope | None:
    """The client's scope from this process's cache, if fresh enough. No I/O."""
    hit = _client_scopes.get((database, client_id))
    if hit is None or time.monotonic() - hit[0] >= CLIENT_SCOPE_SECONDS:
        return None
    return hit[1]


def principal_for_client(session: Session, *, client_id: int, code: str, ip: str) -> Principal:
    database = database_key(session)
    scope = cached_client_scope(database, client_id)
    if scope is None:
        regions, orgs = clients.client_scope(session, client_id)
        scope = scope_of(session, region_codes=regions, org_ids=orgs)
        _client_scopes[(database, client_id)] = (time.monotonic(), scope)
    return _client_principal(client_id, code, scope, ip)


def _client_principal(client_id: int, code: str, scope: Scope, ip: str) -> Principal:
    return Principal(
        kind="client",
        id=client_id,
        name=code,
        permissions=CLIENT_PERMISSIONS,
        scope=scope,
        ip=ip,
    )


async def request_body(request: Request) -> bytes:
    """The raw body, read once (FastAPI keeps it for the route's own parsing). A multipart
    upload has been streamed into its form already: its signature would be checked against
    an empty body, so only console sessions can upload (``clients_allowed=False``)."""
    try:
        return await request.body()
    except RuntimeError:  # "Stream consumed" by the form parser
        return b""


# Bodies hashed (SM3) on the event loop itself: ~1 ms at most; a larger one (a bulk of
# thousands) is checked in the thread pool so that it does not hold up other requests.
INLINE_BODY_BYTES = 64 * 1024


class AccessRule:
    """Base of the rules: the permission matrix finds a route's rule by this type."""


class Public(AccessRule):
    """Open to everyone, deliberately: ``reason`` says why (shown in the matrix)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    async def __call__(self) -> None:
        return None


class Requires(AccessRule):
    """A caller holding ``permission``: a business system whose request is signed, or an
    official with a console session (state-changing calls then need the CSRF header)."""

    def __init__(self, permission: Permission, *, clients_allowed: bool = True) -> None:
        self.permission = permission
        self.clients_allowed = clients_allowed

    async def __call__(
        self,
        request: Request,
        session: SessionDep,
        now: NowDep,
        body: Annotated[bytes, Depends(request_body)],
    ) -> Principal:
        # Async: a signed request whose key and scope are cached is checked here without I/O
        # and without a hand-over to the thread pool (the route has its own); anything that
        # needs the database runs in the pool.
        ip = client_ip(request)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if signing.HEADER_SIGNATURE.lower() in headers or signing.HEADER_CLIENT.lower() in headers:
            if not self.clients_allowed:
                raise Forbidden("forbidden", "业务系统无权访问此功能")
            path = request.url.path
            if request.url.query:
                path += "?" + request.url.query
            signed = clients.check_headers(headers, now=now)
            principal = None
            if request.method not in SAFE_METHODS and len(body) <= INLINE_BODY_BYTES:
                principal = _signed_from_cache(session, signed, request.method, path, body, now, ip)
            if principal is None:
                principal = await run_in_threadpool(
                    _signed_from_database, session, signed, request.method, path, body, now, ip
                )
        else:
            principal = await run_in_threadpool(_official, request, session, now, ip)
        if not principal.can(self.permission):
            raise Forbidden("forbidden", "您没有执行此操作的权限")
        return principal


def _signed_from_cache(
    session: Session,
    signed: clients.SignedHeaders,
    method: str,
    path: str,
    body: bytes,
    now: datetime,
    ip: str,
) -> Principal | None:
    """A state-changing signed request verified from the per-process caches (no I/O), its
    nonce left to the route's transaction; None when something is not cached."""
    database = database_key(session)
    credential = clients.cached_credential(database, signed)
    if credential is None:
        return None
    scope = cached_client_scope(database, credential.client_id)
    if scope is None:
        return None
    client = clients.check_signature(
        credential, signed, method=method, path=path, body=body, now=now
    )
    # One COMMIT for the nonce and the work (see access.nonces).
    nonces.defer_spend(session, client_id=client.id, nonce=signed.nonce, now=now)
    return _client_principal(client.id, client.code, scope, ip)


def _signed_from_database(
    session: Session,
    signed: clients.SignedHeaders,
    method: str,
    path: str,
    body: bytes,
    now: datetime,
    ip: str,
) -> Principal:
    credential = clients.cached_credential(
        database_key(session), signed
    ) or clients.load_credential(session, signed)
    client = clients.check_signature(
        credential, signed, method=method, path=path, body=body, now=now
    )
    if method in SAFE_METHODS:
        # A read may never commit: its nonce is spent and committed before it runs.
        if not clients.spend_nonce(session.connection(), client.id, signed.nonce, now):
            raise clients.nonce_reused()
        session.commit()
    else:
        nonces.defer_spend(session, client_id=client.id, nonce=signed.nonce, now=now)
    return principal_for_client(session, client_id=client.id, code=client.code, ip=ip)


def _official(request: Request, session: Session, now: datetime, ip: str) -> Principal:
    token = request.cookies.get(accounts.SESSION_COOKIE)
    found = accounts.resolve_session(session, token=token, now=now) if token else None
    if found is None:
        raise Unauthenticated("authentication_required", "请先登录，或使用已签名的业务系统凭据访问")
    user, login = found
    if user.must_change_password:
        raise Forbidden("password_change_required", "请先修改初始密码")
    if request.method not in SAFE_METHODS and not _csrf_ok(
        request.headers.get(CSRF_HEADER), login.csrf_token
    ):
        raise Forbidden("csrf_failed", "页面已过期，请刷新后重试")
    session.commit()
    return principal_for_user(session, user_id=user.id, username=user.username, ip=ip)


def _csrf_ok(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def route_rules(route: Any) -> list[AccessRule]:
    """The access rules a route declares, wherever they sit in its dependency tree."""
    found: list[AccessRule] = []

    def walk(dependant: Dependant) -> None:
        call: Any = dependant.call
        if isinstance(call, AccessRule):
            found.append(call)
        for sub in dependant.dependencies:
            walk(sub)

    dependant = getattr(route, "dependant", None)
    if dependant is not None:
        walk(dependant)
    return found


CasesWriter = Annotated[Principal, Depends(Requires(Permission.cases_write))]
CasesReader = Annotated[Principal, Depends(Requires(Permission.cases_read))]
EvaluationsWriter = Annotated[Principal, Depends(Requires(Permission.evaluations_write))]
EvaluationsReader = Annotated[Principal, Depends(Requires(Permission.evaluations_read))]
EvaluationsExporter = Annotated[
    Principal, Depends(Requires(Permission.evaluations_read, clients_allowed=False))
]
ScoresReader = Annotated[Principal, Depends(Requires(Permission.scores_read))]
# Dashboards, rankings and bulletins are for officials, not for business systems (issue 6).
StatisticsReader = Annotated[
    Principal, Depends(Requires(Permission.scores_read, clients_allowed=False))
]
Unmasker = Annotated[Principal, Depends(Requires(Permission.pii_unmask, clients_allowed=False))]
AuditReader = Annotated[Principal, Depends(Requires(Permission.audit_read, clients_allowed=False))]
WorkOrdersReader = Annotated[
    Principal, Depends(Requires(Permission.workorders_read, clients_allowed=False))
]
WorkOrdersActor = Annotated[
    Principal, Depends(Requires(Permission.workorders_act, clients_allowed=False))
]
# The 12345 hotline platform transfers complaints as a signed business system (HB Art.14).
ComplaintsIntake = Annotated[Principal, Depends(Requires(Permission.workorders_intake))]
TextReviewer = Annotated[
    Principal, Depends(Requires(Permission.texts_review, clients_allowed=False))
]


def clear_caches() -> None:
    """Forget cached credentials, client scopes and region paths (after the catalogue or a
    client's scope changed under this process, and between tests that empty the database)."""
    _client_scopes.clear()
    scope_module.clear_path_cache()
    clients.invalidate_credentials()
