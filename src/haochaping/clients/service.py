"""Business-system credentials: creation, rotation with overlap, revocation, verification of
signed requests (stale timestamps and reused nonces refused)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from haochaping.audit.service import record
from haochaping.catalog import service as catalog
from haochaping.catalog.models import Organization
from haochaping.clients import signing
from haochaping.clients.models import BusinessClient, ClientKey, ClientScope, UsedNonce
from haochaping.errors import Conflict, DomainError, InvalidInput, NotFound

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{1,63}$"


class SignatureRefused(DomainError):
    status_code = 401


@dataclass(frozen=True)
class IssuedKey:
    client: str
    kid: str
    secret: str
    valid_until_of_previous: datetime | None = None


@dataclass(frozen=True)
class ClientView:
    code: str
    name: str
    revoked: bool
    scopes: list[str]
    keys: list[tuple[str, datetime | None, bool]]


def _new_kid(now: datetime, existing: set[str]) -> str:
    base = now.strftime("%Y%m%d")
    n = 1
    while f"{base}-{n}" in existing:
        n += 1
    return f"{base}-{n}"


def _get(session: Session, code: str) -> BusinessClient:
    client = session.scalar(select(BusinessClient).where(BusinessClient.code == code))
    if client is None:
        raise NotFound("client_not_found", "未找到该业务系统", details={"code": code})
    return client


def create_client(
    session: Session,
    *,
    code: str,
    name: str,
    org_codes: list[str],
    region_codes: list[str],
    now: datetime,
    actor: str,
) -> IssuedKey:
    """A new client with its first key. It serves the given organisations and region subtrees
    and nothing else; the secret is shown once."""
    if not re.match(CODE_PATTERN, code):
        raise InvalidInput(
            "invalid_client_code", "业务系统编码只能包含字母、数字、点、横线和下划线"
        )
    if not org_codes and not region_codes:
        raise InvalidInput("scope_required", "请至少指定一个服务的机构或地区")
    if session.scalar(select(BusinessClient.id).where(BusinessClient.code == code)):
        raise Conflict("client_exists", "该业务系统编码已存在", details={"code": code})
    client = BusinessClient(code=code, name=name, created_at=now)
    session.add(client)
    session.flush()
    for org_code in org_codes:
        org = catalog.get_org(session=session, code=org_code)
        session.add(ClientScope(client_id=client.id, org_id=org.id))
    for region_code in region_codes:
        region = catalog.get_region(session=session, code=region_code)
        session.add(ClientScope(client_id=client.id, region_code=region.code))
    secret = secrets.token_urlsafe(32)
    kid = _new_kid(now, set())
    session.add(ClientKey(client_id=client.id, kid=kid, secret=secret, created_at=now))
    record(
        session,
        now=now,
        actor=actor,
        action="client_created",
        target=f"client:{code}",
        details={"kid": kid, "orgs": org_codes, "regions": region_codes},
    )
    session.flush()
    return IssuedKey(code, kid, secret)


def rotate_key(
    session: Session, *, code: str, overlap: timedelta, now: datetime, actor: str
) -> IssuedKey:
    """Issue a new key. Keys issued before stay valid for ``overlap`` (no downtime while the
    business system switches), then expire."""
    client = _get(session, code)
    if client.revoked_at is not None:
        raise Conflict("client_revoked", "该业务系统的接入已被撤销")
    keys = list(session.scalars(select(ClientKey).where(ClientKey.client_id == client.id)))
    ends = now + overlap
    for key in keys:
        if key.revoked_at is None and (key.valid_until is None or key.valid_until > ends):
            key.valid_until = ends
    secret = secrets.token_urlsafe(32)
    kid = _new_kid(now, {k.kid for k in keys})
    session.add(ClientKey(client_id=client.id, kid=kid, secret=secret, created_at=now))
    record(
        session,
        now=now,
        actor=actor,
        action="client_key_rotated",
        target=f"client:{code}",
        details={"kid": kid, "previous_valid_until": ends.isoformat()},
    )
    session.flush()
    return IssuedKey(code, kid, secret, ends)


def revoke(session: Session, *, code: str, kid: str | None, now: datetime, actor: str) -> None:
    """Revoke one key, or the whole client (all its keys) when ``kid`` is None. Immediate."""
    client = _get(session, code)
    keys = list(session.scalars(select(ClientKey).where(ClientKey.client_id == client.id)))
    if kid is not None:
        matching = [k for k in keys if k.kid == kid]
        if not matching:
            raise NotFound("client_key_not_found", "未找到该密钥", details={"kid": kid})
        matching[0].revoked_at = matching[0].revoked_at or now
    else:
        client.revoked_at = client.revoked_at or now
        for key in keys:
            key.revoked_at = key.revoked_at or now
    record(
        session,
        now=now,
        actor=actor,
        action="client_revoked",
        target=f"client:{code}",
        details={"kid": kid} if kid else {"all_keys": True},
    )
    session.flush()


def list_clients(session: Session) -> list[ClientView]:
    views = []
    orgs = dict(session.execute(select(Organization.id, Organization.code)).all())
    for client in session.scalars(select(BusinessClient).order_by(BusinessClient.code)):
        scopes = [
            f"机构 {orgs.get(s.org_id, s.org_id)}" if s.org_id else f"地区 {s.region_code}"
            for s in session.scalars(select(ClientScope).where(ClientScope.client_id == client.id))
        ]
        keys = [
            (k.kid, k.valid_until, k.revoked_at is not None)
            for k in session.scalars(
                select(ClientKey).where(ClientKey.client_id == client.id).order_by(ClientKey.id)
            )
        ]
        views.append(
            ClientView(client.code, client.name, client.revoked_at is not None, scopes, keys)
        )
    return views


def client_scope(session: Session, client_id: int) -> tuple[set[str], set[int]]:
    """Region codes and organisation ids a client serves."""
    rows = session.scalars(select(ClientScope).where(ClientScope.client_id == client_id)).all()
    return (
        {r.region_code for r in rows if r.region_code},
        {r.org_id for r in rows if r.org_id is not None},
    )


_CLIENTS = cast(Table, BusinessClient.__table__)
_KEYS = cast(Table, ClientKey.__table__)
_NONCES = cast(Table, UsedNonce.__table__)


def verify_request(
    session: Session,
    *,
    headers: dict[str, str],
    method: str,
    path: str,
    body: bytes,
    now: datetime,
) -> VerifiedClient:
    """The client that signed this request, or a 401 refusal with a stable code. The nonce is
    recorded in the session's transaction (the caller commits it before doing the work)."""
    missing = [h for h in signing.SIGNED_HEADERS if not headers.get(h.lower())]
    if missing:
        raise SignatureRefused(
            "signature_required",
            "请求未签名或签名信息不完整",
            details={"missing_headers": missing},
        )
    code = headers[signing.HEADER_CLIENT.lower()]
    kid = headers[signing.HEADER_KEY_ID.lower()]
    timestamp = headers[signing.HEADER_TIMESTAMP.lower()]
    nonce = headers[signing.HEADER_NONCE.lower()]
    given = headers[signing.HEADER_SIGNATURE.lower()]
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureRefused("timestamp_invalid", "请求时间戳格式不正确")
    if abs(now.timestamp() - int(timestamp)) > signing.TOLERANCE:
        raise SignatureRefused(
            "timestamp_stale", "请求时间戳已过期或与服务器时间相差过大，请校准时间后重试"
        )
    if not signing.NONCE_PATTERN.match(nonce):
        raise SignatureRefused("nonce_invalid", "请求随机串格式不正确")
    # Client and key in one round trip (the hot path of every business-system request).
    found = session.execute(
        select(
            _CLIENTS.c.id,
            _CLIENTS.c.code,
            _CLIENTS.c.revoked_at,
            _KEYS.c.secret,
            _KEYS.c.revoked_at,
            _KEYS.c.valid_until,
        )
        .select_from(_CLIENTS.join(_KEYS, _KEYS.c.client_id == _CLIENTS.c.id))
        .where(_CLIENTS.c.code == code[:64], _KEYS.c.kid == kid[:32])
    ).first()
    # One answer for an unknown client, an unknown key and a wrong signature: no oracle.
    bad_signature = SignatureRefused("signature_invalid", "请求签名无效")
    if found is None:
        raise bad_signature
    client_id, client_code, client_revoked, secret, key_revoked, valid_until = found
    expected = signing.signature(
        secret, signing.canonical_string(method, path, timestamp, nonce, body)
    )
    if not signing.signatures_match(expected, given):
        raise bad_signature
    if client_revoked is not None or key_revoked is not None:
        raise SignatureRefused("credential_revoked", "该业务系统的接入凭据已被撤销")
    if valid_until is not None and valid_until <= now:
        raise SignatureRefused("key_expired", "该密钥已过期，请使用新密钥签名")
    if not _spend_nonce(session, client_id, nonce, now):
        raise SignatureRefused("nonce_reused", "请求随机串已使用过（疑似重放），请求被拒绝")
    return VerifiedClient(client_id, client_code)


@dataclass(frozen=True)
class VerifiedClient:
    id: int
    code: str


def _spend_nonce(session: Session, client_id: int, nonce: str, now: datetime) -> bool:
    """Record the nonce; False when the client used it before. One statement, no savepoint."""
    values = {"client_id": client_id, "nonce": nonce, "seen_at": now}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(_NONCES)
        .values(values)
        .on_conflict_do_nothing(index_elements=["client_id", "nonce"])
        .returning(_NONCES.c.id)
    )
    return session.execute(statement).first() is not None


def purge_nonces(session: Session, *, now: datetime) -> int:
    """Nonces older than twice the tolerance cannot be replayed anyway (their timestamp is
    stale); the sweeper deletes them."""
    cutoff = now - timedelta(seconds=2 * signing.TOLERANCE + 60)
    result = session.execute(delete(UsedNonce).where(UsedNonce.seen_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)


__all__ = [
    "ClientView",
    "IssuedKey",
    "SignatureRefused",
    "client_scope",
    "create_client",
    "list_clients",
    "purge_nonces",
    "revoke",
    "rotate_key",
    "verify_request",
]
