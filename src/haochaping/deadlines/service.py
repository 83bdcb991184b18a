"""Scheduling deadlines and sweeping the due ones, safely with several sweepers at once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from haochaping.bulk_insert import insert_rows
from haochaping.deadlines.models import Deadline, DeadlineStatus

log = logging.getLogger(__name__)

# A handler does the work of one due deadline inside the sweeper's transaction.
Handler = Callable[[Session, int, datetime], None]

MAX_ATTEMPTS = 5


@dataclass
class SweepResult:
    processed: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    # Statistics queue entries folded into the rollups after the deadlines (issue 6); kept
    # apart from ``processed`` so that ``total`` counts due rows only.
    folded: int = 0

    @property
    def total(self) -> int:
        return sum(self.processed.values())


def schedule(
    *, session: Session, kind: str, subject_id: int, due_at: datetime, estimated: bool = False
) -> Deadline:
    """Store (or move, while still pending) the deadline of ``kind`` for one subject."""
    existing = session.scalar(
        select(Deadline).where(Deadline.kind == kind, Deadline.subject_id == subject_id)
    )
    if existing is not None:
        if existing.status == DeadlineStatus.pending.value:
            existing.due_at = due_at
            existing.estimated = estimated
        return existing
    row = Deadline(kind=kind, subject_id=subject_id, due_at=due_at, estimated=estimated)
    session.add(row)
    return row


def sweep_batch(
    *, session: Session, now: datetime, handlers: Mapping[str, Handler], limit: int = 500
) -> SweepResult:
    """Process up to ``limit`` due deadlines in the caller's transaction.

    On PostgreSQL the rows are claimed with ``FOR UPDATE SKIP LOCKED``, so a second sweeper
    takes other rows; on SQLite the write lock taken at BEGIN serialises sweepers. Each row runs
    in a savepoint: a failing handler is logged and retried on a later sweep, never blocking
    the others.
    """
    rows = session.scalars(
        select(Deadline)
        .where(Deadline.status == DeadlineStatus.pending.value, Deadline.due_at <= now)
        .order_by(Deadline.due_at, Deadline.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    result = SweepResult()
    for row in rows:
        handler = handlers.get(row.kind)
        if handler is None:
            continue
        try:
            with session.begin_nested():
                handler(session, row.subject_id, now)
        except Exception as exc:
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = DeadlineStatus.failed.value
            log.error(
                "deadline %s #%s failed (attempt %s): %s",
                row.kind,
                row.id,
                row.attempts,
                row.last_error,
            )
            result.failed += 1
            continue
        row.status = DeadlineStatus.done.value
        row.processed_at = now
        result.processed[row.kind] = result.processed.get(row.kind, 0) + 1
    session.flush()
    return result


def cancel(*, session: Session, kinds: Sequence[str], subject_ids: Sequence[int]) -> None:
    """Cancel the pending deadlines of these kinds for these subjects (the work they were for
    was done in time)."""
    if not subject_ids:
        return
    session.execute(
        update(Deadline)
        .where(
            Deadline.kind.in_(list(kinds)),
            Deadline.subject_id.in_(list(subject_ids)),
            Deadline.status == DeadlineStatus.pending.value,
        )
        .values(status=DeadlineStatus.cancelled.value)
    )


def _chunks(ids: Sequence[int], size: int = 1000) -> list[list[int]]:
    return [list(ids[i : i + size]) for i in range(0, len(ids), size)]


def schedule_many(
    *, session: Session, kind: str, dues: Mapping[int, tuple[datetime, bool]]
) -> None:
    """Store the deadlines of ``kind`` for many subjects just created (subject id -> due time,
    estimated) in one INSERT; ``schedule`` costs a query per row. A row left from a reused id,
    which only SQLite can produce, is reset instead."""
    if not dues:
        return
    stale: set[int] = set()
    # PostgreSQL's sequences never hand an id out twice: no stale row to look for there.
    reused_ids = session.get_bind().dialect.name == "sqlite"
    for chunk in _chunks(sorted(dues)) if reused_ids else []:
        stale.update(
            session.scalars(
                select(Deadline.subject_id).where(
                    Deadline.kind == kind, Deadline.subject_id.in_(chunk)
                )
            )
        )
    for subject_id in sorted(stale):
        due_at, estimated = dues[subject_id]
        session.execute(
            update(Deadline)
            .where(Deadline.kind == kind, Deadline.subject_id == subject_id)
            .values(
                due_at=due_at,
                estimated=estimated,
                status=DeadlineStatus.pending.value,
                attempts=0,
                processed_at=None,
                last_error=None,
            )
        )
    insert_rows(
        session.connection(),
        cast(Table, Deadline.__table__),
        [
            {
                "kind": kind,
                "subject_id": subject_id,
                "due_at": due_at,
                "estimated": estimated,
                "status": DeadlineStatus.pending.value,
                "attempts": 0,
            }
            for subject_id, (due_at, estimated) in sorted(dues.items())
            if subject_id not in stale
        ],
    )
