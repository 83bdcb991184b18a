"""The append-only, hash-chained audit log (issue 3): record, verify, list.

Every entry carries the SM3 hash of the previous entry, so that editing or deleting a row
breaks the chain at that row. The hash of an entry is SM3 (hex) over the UTF-8 bytes of the
JSON array ``["hcp-audit-v1", seq, at, actor, actor_ip, action, target, details, prev_hash]``
(no spaces, non-ASCII kept as is), where ``at`` is the UTC ISO 8601 time with microseconds
(``2026-11-23T09:00:00.000000+00:00``) and ``details`` the stored canonical JSON text. The
first entry's ``prev_hash`` is 64 zeros.

What the chain cannot show by itself: rows deleted at the *end* of the log (the remaining
chain is intact), or a log rewritten from some row on with every later hash recomputed (SM3
is public, not keyed). Against both, an operator notes the last ``seq:hash`` that
``haochaping audit verify`` prints (an anchor), keeps it outside the database, and later runs
``haochaping audit verify --anchor SEQ:HASH``: the row with that ``seq`` must still exist and
still have that hash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from cryptography.hazmat.primitives import hashes
from sqlalchemy import ColumnElement, func, select, text
from sqlalchemy.orm import Session

from haochaping.audit.actions import AuditAction
from haochaping.audit.models import AuditEntry
from haochaping.clock import BEIJING, ensure_aware
from haochaping.errors import InvalidInput

GENESIS_HASH = "0" * 64
HASH_FORMAT = "hcp-audit-v1"
# The key of the PostgreSQL advisory lock that serialises appends ("hcp_audi" in ASCII).
ADVISORY_LOCK_KEY = 0x6863705F61756469
ACTOR_MAX = 100
IP_MAX = 64
ACTION_MAX = 40
TARGET_MAX = 200
PAGE_SIZE_MAX = 500
ANCHOR_INVALID = "audit_anchor_invalid"
_HEX64 = re.compile(r"[0-9a-f]{64}")


# ---- hashing ------------------------------------------------------------------------------


def sm3_hex(data: bytes) -> str:
    """The SM3 digest of ``data`` as 64 lowercase hexadecimal characters."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize().hex()


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces and non-ASCII kept: the same value, the same text."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def entry_hash(
    *,
    seq: int,
    at: datetime,
    actor: str,
    actor_ip: str,
    action: str,
    target: str,
    details: str,
    prev_hash: str,
) -> str:
    """The SM3 hash of one entry (see the module docstring for the exact serialization)."""
    payload = [HASH_FORMAT, seq, _iso(at), actor, actor_ip, action, target, details, prev_hash]
    return sm3_hex(canonical_json(payload).encode("utf-8"))


# ---- recording ----------------------------------------------------------------------------


def _clean(value: str, limit: int) -> str:
    # PostgreSQL text cannot hold NUL; the column lengths bound the rest. What is hashed is
    # exactly what is stored.
    return value.replace("\x00", "")[:limit]


def _lock_chain(session: Session) -> None:
    """On PostgreSQL, hold until the end of the transaction the lock that orders appends.

    SQLite needs none: every transaction starts with BEGIN IMMEDIATE (see ``haochaping.db``),
    so writers already queue. The unique ``seq`` is the backstop on both.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK_KEY})


def record(
    session: Session,
    *,
    now: datetime,
    actor: str,
    action: AuditAction | str,
    target: str = "",
    details: Mapping[str, Any] | None = None,
    ip: str = "",
) -> AuditEntry:
    """Append one entry to the audit log in the caller's transaction (the caller commits).

    ``actor`` is ``"user:<login>"``, ``"client:<code>"``, ``"cli:<os user>"`` or ``"system"``;
    ``ip`` where the request came from (empty for the CLI); ``target`` what was acted on;
    ``details`` a small JSON-serialisable mapping, stored as canonical JSON.

    ``details`` and ``target`` must never contain personal data in clear (names, ID card or
    phone numbers of raters or officials' secrets): callers pass masked values
    (``haochaping.privacy``), identifiers and counts only. The log is append-only and cannot be
    purged row by row without breaking the chain.

    On PostgreSQL this takes a transaction-level advisory lock, so other transactions that
    record an entry wait until this one commits or rolls back: record as late as possible in
    a transaction. The transaction must be READ COMMITTED (the default) so that the last entry
    read after the lock is the latest committed one.
    """
    if now.tzinfo is None:
        raise ValueError("naive datetime given to the audit log")
    code = str(action)
    if not code or len(code) > ACTION_MAX:
        raise ValueError(f"audit action code must be 1..{ACTION_MAX} characters: {code!r}")
    at = now.astimezone(UTC)
    body = canonical_json(dict(details) if details else {})
    fields = {
        "actor": _clean(actor, ACTOR_MAX),
        "actor_ip": _clean(ip, IP_MAX),
        "action": code,
        "target": _clean(target, TARGET_MAX),
        "details": body,
    }
    _lock_chain(session)
    last = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last is not None else (1, GENESIS_HASH)
    digest = entry_hash(seq=seq, at=at, prev_hash=prev_hash, **fields)
    entry = AuditEntry(seq=seq, at=at, prev_hash=prev_hash, hash=digest, **fields)
    session.add(entry)
    session.flush()
    return entry


def entry_details(entry: AuditEntry) -> dict[str, Any]:
    """An entry's ``details`` as a mapping (empty when it is not a JSON object)."""
    try:
        value = json.loads(entry.details)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def record_profile_fingerprints(
    session: Session, now: datetime, fingerprints: Mapping[str, str], *, actor: str = "system"
) -> list[str]:
    """Append a ``profile_changed`` entry for every profile whose fingerprint differs from the
    last one recorded for it (or that was never recorded); returns those profile names, sorted.

    ``fingerprints`` maps a profile name to the SM3 of its resolved content, as computed by
    ``haochaping.audit.profiles.current_profile_fingerprints``. Nothing but the log is stored.
    """
    changed: list[str] = []
    for name in sorted(fingerprints):
        fingerprint = fingerprints[name]
        previous_details = session.scalars(
            select(AuditEntry.details)
            .where(
                AuditEntry.action == AuditAction.profile_changed.value,
                AuditEntry.target == _clean(name, TARGET_MAX),
            )
            .order_by(AuditEntry.seq.desc())
            .limit(1)
        ).first()
        previous: str | None = None
        if previous_details is not None:
            try:
                loaded = json.loads(previous_details)
            except ValueError:
                loaded = {}
            value = loaded.get("fingerprint") if isinstance(loaded, dict) else None
            previous = value if isinstance(value, str) else None
        if previous == fingerprint:
            continue
        record(
            session,
            now=now,
            actor=actor,
            action=AuditAction.profile_changed,
            target=name,
            details={"fingerprint": fingerprint, "previous": previous},
        )
        changed.append(name)
    return changed


# ---- verifying ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Anchor:
    """A position an operator noted outside the database: entry ``seq`` had hash ``hash``."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def parse_anchor(value: str) -> Anchor:
    """``"SEQ:HASH"`` → ``Anchor``; ``InvalidInput(audit_anchor_invalid)`` otherwise."""
    seq_text, sep, digest = value.strip().partition(":")
    digest = digest.strip().lower()
    if not sep or not seq_text.strip().isdigit() or not _HEX64.fullmatch(digest):
        raise InvalidInput(
            ANCHOR_INVALID,
            f"锚点“{value}”格式不对，应为 序号:哈希（哈希为 64 位十六进制，"
            "即 haochaping audit verify 输出的末条序号与哈希）",
            details={"anchor": value},
        )
    seq = int(seq_text)
    if seq < 1:
        raise InvalidInput(ANCHOR_INVALID, "锚点序号应从 1 开始", details={"anchor": value})
    return Anchor(seq=seq, hash=digest)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of checking the chain.

    ``checked`` counts the entries found intact before the first break (all of them when
    ``ok``); ``last_seq``/``last_hash`` is the last intact entry (``0`` and the genesis hash
    for an empty log), to be noted as an anchor. ``reason`` says in Chinese where it breaks.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str | None
    last_seq: int
    last_hash: str

    @property
    def anchor(self) -> str:
        return f"{self.last_seq}:{self.last_hash}"


_COLUMNS = (
    AuditEntry.seq,
    AuditEntry.at,
    AuditEntry.actor,
    AuditEntry.actor_ip,
    AuditEntry.action,
    AuditEntry.target,
    AuditEntry.details,
    AuditEntry.prev_hash,
    AuditEntry.hash,
)


def verify(
    session: Session, *, anchor: Anchor | None = None, batch_size: int = 2000
) -> VerifyResult:
    """Recompute the whole chain in ``seq`` order, streaming ``batch_size`` rows at a time.

    Finds, and stops at, the first of: a missing entry (a gap in ``seq``), an entry whose
    ``prev_hash`` is not the previous entry's hash (a deleted or replaced predecessor, or an
    edited ``prev_hash``), an entry whose content no longer matches its hash (an edited row).
    With ``anchor``, also that entry ``anchor.seq`` exists and has ``anchor.hash``: this catches
    rows deleted at the end and a chain rewritten with recomputed hashes.
    """
    checked = 0
    expected = 1
    prev_hash = GENESIS_HASH
    anchor_seen = False

    def broken(seq: int, reason: str) -> VerifyResult:
        return VerifyResult(False, checked, seq, reason, expected - 1, prev_hash)

    result = session.execute(
        select(*_COLUMNS).order_by(AuditEntry.seq).execution_options(yield_per=batch_size)
    )
    try:
        rows = iter(result)
        while True:
            try:
                row = next(rows, None)
            except (ValueError, TypeError):
                # A value the column type cannot read back (e.g. a time edited into garbage).
                return broken(expected, f"第 {expected} 条记录无法读取（字段被改为非法值）")
            if row is None:
                break
            seq, at, actor, actor_ip, action, target, details, row_prev, row_hash = row
            if seq != expected:
                if seq > expected:
                    span = f"{expected}" if seq == expected + 1 else f"{expected}–{seq - 1}"
                    return broken(expected, f"第 {span} 条记录缺失（序号不连续）")
                return broken(expected, f"第 {expected} 条记录的序号被改为 {seq}")
            if row_prev != prev_hash:
                if seq == 1:
                    return broken(seq, "第 1 条记录的前序哈希不是初始值（全零）")
                return broken(seq, f"第 {seq} 条记录的前序哈希与第 {seq - 1} 条不符")
            recomputed = entry_hash(
                seq=seq,
                at=at,
                actor=actor,
                actor_ip=actor_ip,
                action=action,
                target=target,
                details=details,
                prev_hash=row_prev,
            )
            if recomputed != row_hash:
                return broken(seq, f"第 {seq} 条记录内容被修改（哈希不符）")
            if anchor is not None and seq == anchor.seq:
                anchor_seen = True
                if row_hash != anchor.hash:
                    return broken(
                        seq,
                        f"第 {seq} 条记录的哈希与锚点不符（日志在此条或之前被改写并重算了哈希）",
                    )
            checked += 1
            expected += 1
            prev_hash = row_hash
    finally:
        result.close()
    if anchor is not None and not anchor_seen:
        return broken(
            expected,
            f"锚点第 {anchor.seq} 条记录不存在：日志只到第 {expected - 1} 条，其后的记录被删除",
        )
    return VerifyResult(True, checked, None, None, expected - 1, prev_hash)


# ---- listing ------------------------------------------------------------------------------


def _lower_bound(value: date) -> datetime:
    if isinstance(value, datetime):
        return ensure_aware(value)
    return datetime.combine(value, time(0), tzinfo=BEIJING)


def _upper_bound(value: date) -> tuple[datetime, bool]:
    """(bound, inclusive): a datetime is inclusive, a date covers its whole Beijing day."""
    if isinstance(value, datetime):
        return ensure_aware(value), True
    return datetime.combine(value + timedelta(days=1), time(0), tzinfo=BEIJING), False


def list_entries(
    session: Session,
    *,
    action: str | None = None,
    actor: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    page: int = 1,
    page_size: int = 50,
) -> tuple[int, list[AuditEntry]]:
    """(total matching, one page of entries newest first).

    ``date_from``/``date_to`` are dates (Beijing calendar days, both included) or aware
    datetimes (instants, both included; a naive one is read as Beijing time).
    """
    if page < 1 or not 1 <= page_size <= PAGE_SIZE_MAX:
        raise InvalidInput(
            "audit_page_invalid",
            f"页码应从 1 开始，每页条数应在 1 到 {PAGE_SIZE_MAX} 之间",
            details={"page": page, "page_size": page_size},
        )
    conditions: list[ColumnElement[bool]] = []
    if action:
        conditions.append(AuditEntry.action == action)
    if actor:
        conditions.append(AuditEntry.actor == actor)
    if date_from is not None:
        conditions.append(AuditEntry.at >= _lower_bound(date_from))
    if date_to is not None:
        bound, inclusive = _upper_bound(date_to)
        conditions.append(AuditEntry.at <= bound if inclusive else AuditEntry.at < bound)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
    rows = session.scalars(
        select(AuditEntry)
        .where(*conditions)
        .order_by(AuditEntry.seq.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return total, list(rows)
