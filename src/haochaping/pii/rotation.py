"""Re-encrypting raters' personal data under the active key (``haochaping keys rotate``).

C9: the rater's information is confidential. After a new key becomes active, every case whose
name, ID number or phone is under another key, or still clear text from before encryption, is
decrypted and encrypted again under the active key, and its blind indexes are computed.

Work goes in batches in primary-key order, each committed on its own. Rows already under the
active key are left out by the WHERE clause, so an interrupted run resumes by running again.
The statements work on the raw column values (ciphertext), not through ``EncryptedText``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Connection,
    String,
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    type_coerce,
    update,
)

from haochaping.cases.models import Case
from haochaping.clients.models import ClientKey
from haochaping.db import Database
from haochaping.pii.cipher import PREFIX, blind_index, decrypt, encrypt
from haochaping.pii.keyring import Keyring, current

Progress = Callable[[int, int], None]

FIELDS = ("applicant_name", "applicant_id_no", "applicant_phone")
# Which blind index each indexed field feeds, and its kind for ``blind_index``.
INDEXES = {
    "applicant_phone": ("applicant_phone_index", "phone"),
    "applicant_id_no": ("applicant_id_index", "id"),
}

_cases = cast(Table, Case.__table__)
# The stored strings themselves: ciphertext, or clear text from before encryption.
_raw = {name: type_coerce(_cases.c[name], String()) for name in FIELDS}


@dataclass(frozen=True)
class RotationResult:
    active_kid: str
    # Cases re-encrypted by this run.
    rotated: int
    # Cases still not under the active key afterwards: changed by the application while the
    # run went on (under the key it held then). Running again picks them up.
    remaining: int
    # Business systems' signing secrets re-encrypted (they share the keyring).
    client_secrets: int = 0


def _pending(active_kid: str) -> ColumnElement[bool]:
    """Cases with a value not under the active key, or a value without its blind index."""
    under_active = f"{PREFIX}{active_kid}:%"
    stale = [and_(_raw[f].is_not(None), _raw[f].not_like(under_active)) for f in FIELDS]
    unindexed = [
        and_(_cases.c[f].is_not(None), _cases.c[index].is_(None))
        for f, (index, _) in INDEXES.items()
    ]
    return or_(*stale, *unindexed)


def _count_pending(conn: Connection, active_kid: str) -> int:
    query = select(func.count()).select_from(_cases).where(_pending(active_kid))
    return int(conn.execute(query).scalar_one())


_UPDATE = (
    update(_cases)
    .where(
        _cases.c.id == bindparam("b_id"),
        # Optimistic: a row the application rewrote since we read it is left for a later run.
        *(_raw[f].is_not_distinct_from(bindparam(f"old_{f}", type_=String())) for f in FIELDS),
    )
    .values(
        {
            **{_cases.c[f]: bindparam(f"new_{f}", type_=String()) for f in FIELDS},
            **{_cases.c[index]: bindparam(f"new_{index}") for index, _ in INDEXES.values()},
        }
    )
)


def _reencrypted(row: Any, keyring: Keyring) -> dict[str, Any]:
    params: dict[str, Any] = {"b_id": row.id}
    for f in FIELDS:
        old = getattr(row, f)
        clear = None if old is None else decrypt(old, keyring)
        params[f"old_{f}"] = old
        params[f"new_{f}"] = None if clear is None else encrypt(clear, keyring)
        if f in INDEXES:
            index, kind = INDEXES[f]
            params[f"new_{index}"] = None if clear is None else blind_index(kind, clear, keyring)
    return params


def rotate(
    db: Database,
    *,
    batch_size: int = 500,
    progress: Progress | None = None,
    keyring: Keyring | None = None,
) -> RotationResult:
    """Bring every case's personal data under the active key of ``keyring`` (by default the
    current one), ``batch_size`` cases per committed transaction. ``progress(done, total)`` is
    called after each batch; an exception from it (or anything else) stops the run with the
    batches done so far kept, and calling ``rotate`` again carries on from there."""
    ring = keyring or current()
    active = ring.active_kid
    with db.engine.connect() as conn:
        total = _count_pending(conn, active)
    batch = (
        select(_cases.c.id, *(_raw[f].label(f) for f in FIELDS))
        .where(_pending(active), _cases.c.id > bindparam("after"))
        .order_by(_cases.c.id)
        .limit(batch_size)
    )
    done, after = 0, 0
    while True:
        with db.engine.begin() as conn:
            rows = conn.execute(batch, {"after": after}).all()
            if not rows:
                break
            conn.execute(_UPDATE, [_reencrypted(row, ring) for row in rows])
        done, after = done + len(rows), rows[-1].id
        if progress is not None:
            progress(done, max(total, done))
    with db.engine.connect() as conn:
        remaining = _count_pending(conn, active)
    secrets = _rotate_client_secrets(db, ring)
    return RotationResult(
        active_kid=active, rotated=done, remaining=remaining, client_secrets=secrets
    )


_keys = cast(Table, ClientKey.__table__)
_raw_secret = type_coerce(_keys.c.secret, String())


def _rotate_client_secrets(db: Database, ring: Keyring) -> int:
    """The signing secrets of business systems (a few rows): one transaction."""
    under_active = f"{PREFIX}{ring.active_kid}:%"
    with db.engine.begin() as conn:
        rows = conn.execute(
            select(_keys.c.id, _raw_secret.label("secret")).where(
                _raw_secret.not_like(under_active)
            )
        ).all()
        for row in rows:
            conn.execute(
                update(_keys)
                .where(_keys.c.id == row.id)
                .values(
                    {
                        _keys.c.secret: type_coerce(
                            encrypt(decrypt(row.secret, ring), ring), String()
                        )
                    }
                )
            )
    return len(rows)


CLEAR = "clear"
UNKNOWN = "unknown"


def status(db: Database, keyring: Keyring | None = None) -> dict[str, int]:
    """How many stored values (name, ID number, phone) are under each key id of the keyring,
    how many are still clear text (``"clear"``) and, when any, how many are under a key the
    keyring does not hold (``"unknown"``). One scan of the cases table."""
    ring = keyring or current()
    kids = list(ring.keys)
    columns = [_count_values(f"{PREFIX}{kid}:%") for kid in kids]
    columns.append(_count_values(f"{PREFIX}%", negate=True))
    columns.append(_count_values(f"{PREFIX}%"))
    with db.engine.connect() as conn:
        values = [int(v) for v in conn.execute(select(*columns).select_from(_cases)).one()]
    known = dict(zip(kids, values, strict=False))
    result = {**known, CLEAR: values[len(kids)]}
    unknown = values[len(kids) + 1] - sum(known.values())
    if unknown:
        result[UNKNOWN] = unknown
    return result


def _count_values(pattern: str, *, negate: bool = False) -> ColumnElement[Any]:
    """SUM over the cases of how many of their (non-null) values match ``pattern``."""
    per_row: ColumnElement[Any] | None = None
    for f in FIELDS:
        matches = _raw[f].not_like(pattern) if negate else _raw[f].like(pattern)
        one = case((matches, 1), else_=0)
        per_row = one if per_row is None else per_row + one
    assert per_row is not None
    return func.coalesce(func.sum(per_row), 0)
