"""Idempotent requests: the first answer to an ``Idempotency-Key`` is stored with the work and
returned to every retry of the same request."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from haochaping.errors import Conflict
from haochaping.evaluations.models import IdempotencyRecord


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def replay(*, session: Session, key: str, payload_hash: str) -> StoredAnswer | None:
    """The first answer to this key, or None. A key reused for another request is refused."""
    record = session.get(IdempotencyRecord, key)
    if record is None:
        return None
    if record.request_hash != payload_hash:
        raise Conflict(
            "idempotency_key_reused", "该幂等键已用于另一个不同的请求", details={"key": key}
        )
    return StoredAnswer(record.status_code, record.response)


def remember(
    *, session: Session, key: str, payload_hash: str, answer: StoredAnswer, now: datetime
) -> None:
    """Store the answer with the work; a concurrent twin makes this flush fail."""
    session.add(
        IdempotencyRecord(
            key=key,
            request_hash=payload_hash,
            status_code=answer.status_code,
            response=answer.body,
            created_at=now,
        )
    )
    session.flush()


def run_idempotent(
    *,
    session: Session,
    key: str,
    payload: Any,
    now: datetime,
    work: Callable[[], StoredAnswer],
) -> StoredAnswer:
    """Run ``work`` once per key: a retry returns the first answer."""
    digest = request_hash(payload)
    stored = replay(session=session, key=key, payload_hash=digest)
    if stored is not None:
        return stored
    answer = work()
    remember(session=session, key=key, payload_hash=digest, answer=answer, now=now)
    return answer
