"""Business-system credentials: creation, rotation with overlap, revocation, verification of
signed requests (stale timestamps and reused nonces refused)."""

from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Connection, Table, bindparam, delete, event, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from haochaping.audit.service import record
from haochaping.catalog import service as catalog
from haochaping.catalog.models import Organization
from haochaping.clients import signing
from haochaping.clients.models import BusinessClient, ClientKey, ClientScope, UsedNonce
from haochaping.db import database_key
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
    _credentials_changed(session)
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
    _credentials_changed(session)
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


@dataclass(frozen=True)
class SignedHeaders:
    """The five signature headers of a request, checked for form (not yet for truth)."""

    client: str
    kid: str
    timestamp: str
    nonce: str
    signature: str


@dataclass(frozen=True)
class Credential:
    """What verifying a signature needs of one (client, key id): the secret in clear and the
    state that can refuse it. Held in the per-process cache below."""

    client_id: int
    client_code: str
    secret: str
    client_revoked: bool
    key_revoked: bool
    valid_until: datetime | None


@dataclass(frozen=True)
class VerifiedClient:
    id: int
    code: str


# Every signed request needs its key: a per-process cache spares it the query (and the SM4
# decryption of the secret). A revocation or rotation made in this process empties the cache at
# once (and again when it commits); one made in another process (the CLI, another server
# worker) is seen here within CREDENTIAL_CACHE_SECONDS at the latest. docs/signing.md says so.
CREDENTIAL_CACHE_SECONDS = 10.0
_credentials: dict[tuple[str, str, str], tuple[float, Credential]] = {}
_generation = 0
_cache_lock = threading.Lock()
_CHANGED = "hcp.credentials_changed"


def invalidate_credentials() -> None:
    """Forget every cached credential of this process."""
    global _generation
    with _cache_lock:
        _generation += 1
        _credentials.clear()


def _credentials_changed(session: Session) -> None:
    # At once, and again after the commit: a request that read the old row before the commit
    # must not leave it in the cache (the generation check in ``load_credential``).
    invalidate_credentials()
    session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    # Releasing a savepoint fires this event too: wait for the outermost commit.
    if session.get_nested_transaction() is None and session.info.pop(_CHANGED, False):
        invalidate_credentials()


def check_headers(headers: dict[str, str], *, now: datetime) -> SignedHeaders:
    """The signature headers (lower-case names), refused when missing, stale or malformed."""
    missing = [h for h in signing.SIGNED_HEADERS if not headers.get(h.lower())]
    if missing:
        raise SignatureRefused(
            "signature_required",
            "请求未签名或签名信息不完整",
            details={"missing_headers": missing},
        )
    signed = SignedHeaders(
        client=headers[signing.HEADER_CLIENT.lower()],
        kid=headers[signing.HEADER_KEY_ID.lower()],
        timestamp=headers[signing.HEADER_TIMESTAMP.lower()],
        nonce=headers[signing.HEADER_NONCE.lower()],
        signature=headers[signing.HEADER_SIGNATURE.lower()],
    )
    if not signed.timestamp.isdigit() or len(signed.timestamp) > 12:
        raise SignatureRefused("timestamp_invalid", "请求时间戳格式不正确")
    if abs(now.timestamp() - int(signed.timestamp)) > signing.TOLERANCE:
        raise SignatureRefused(
            "timestamp_stale", "请求时间戳已过期或与服务器时间相差过大，请校准时间后重试"
        )
    if not signing.NONCE_PATTERN.match(signed.nonce):
        raise SignatureRefused("nonce_invalid", "请求随机串格式不正确")
    return signed


def cached_credential(database: str, signed: SignedHeaders) -> Credential | None:
    """The credential from this process's cache, if fresh enough. No I/O."""
    hit = _credentials.get((database, signed.client, signed.kid))
    if hit is None or time.monotonic() - hit[0] >= CREDENTIAL_CACHE_SECONDS:
        return None
    return hit[1]


def load_credential(session: Session, signed: SignedHeaders) -> Credential | None:
    """The credential from the database (None for an unknown client or key), cached."""
    generation = _generation
    # Client and key in one round trip.
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
        .where(_CLIENTS.c.code == signed.client[:64], _KEYS.c.kid == signed.kid[:32])
    ).first()
    # Unknown pairs are not cached: a key issued a moment ago works at once.
    if found is None:
        return None
    client_id, client_code, client_revoked, secret, key_revoked, valid_until = found
    credential = Credential(
        client_id=client_id,
        client_code=client_code,
        secret=secret,
        client_revoked=client_revoked is not None,
        key_revoked=key_revoked is not None,
        valid_until=valid_until,
    )
    with _cache_lock:
        # A revocation or rotation since the query started: its row may be the old one.
        if generation == _generation:
            key = (database_key(session), signed.client, signed.kid)
            _credentials[key] = (time.monotonic(), credential)
    return credential


def check_signature(
    credential: Credential | None,
    signed: SignedHeaders,
    *,
    method: str,
    path: str,
    body: bytes,
    now: datetime,
) -> VerifiedClient:
    """The signing client if the signature is right and the key valid; else a 401 refusal."""
    # One answer for an unknown client, an unknown key and a wrong signature: no oracle.
    bad_signature = SignatureRefused("signature_invalid", "请求签名无效")
    if credential is None:
        raise bad_signature
    expected = signing.signature(
        credential.secret,
        signing.canonical_string(method, path, signed.timestamp, signed.nonce, body),
    )
    if not signing.signatures_match(expected, signed.signature):
        raise bad_signature
    if credential.client_revoked or credential.key_revoked:
        raise SignatureRefused("credential_revoked", "该业务系统的接入凭据已被撤销")
    if credential.valid_until is not None and credential.valid_until <= now:
        raise SignatureRefused("key_expired", "该密钥已过期，请使用新密钥签名")
    return VerifiedClient(credential.client_id, credential.client_code)


def nonce_reused() -> SignatureRefused:
    return SignatureRefused("nonce_reused", "请求随机串已使用过（疑似重放），请求被拒绝")


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
    recorded in the session's transaction (the caller commits it)."""
    signed = check_headers(headers, now=now)
    credential = cached_credential(database_key(session), signed) or load_credential(
        session, signed
    )
    client = check_signature(credential, signed, method=method, path=path, body=body, now=now)
    if not spend_nonce(session.connection(), client.id, signed.nonce, now):
        raise nonce_reused()
    return client


_SPEND_PG = (
    pg_insert(_NONCES)
    .values(
        client_id=bindparam("client_id"), nonce=bindparam("nonce"), seen_at=bindparam("seen_at")
    )
    .on_conflict_do_nothing(index_elements=["client_id", "nonce"])
    .returning(_NONCES.c.id)
)
_SPEND_SQLITE = (
    sqlite_insert(_NONCES)
    .values(
        client_id=bindparam("client_id"), nonce=bindparam("nonce"), seen_at=bindparam("seen_at")
    )
    .on_conflict_do_nothing(index_elements=["client_id", "nonce"])
    .returning(_NONCES.c.id)
)


def spend_nonce(conn: Connection, client_id: int, nonce: str, now: datetime) -> bool:
    """Record the nonce in ``conn``'s transaction; False when the client used it before (or a
    concurrent request holding it commits). One statement, no savepoint."""
    statement = _SPEND_PG if conn.dialect.name == "postgresql" else _SPEND_SQLITE
    values = {"client_id": client_id, "nonce": nonce, "seen_at": now}
    return conn.execute(statement, values).first() is not None


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
    "check_headers",
    "check_signature",
    "client_scope",
    "create_client",
    "list_clients",
    "purge_nonces",
    "revoke",
    "rotate_key",
    "spend_nonce",
    "verify_request",
]
