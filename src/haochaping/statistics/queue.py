"""Queueing what the rollups must count, in the transaction that makes it (an insert only, so
concurrent ratings never wait on a shared rollup row). ``rollup.fold`` empties the queue."""

from __future__ import annotations

from collections.abc import Collection
from itertools import chain
from typing import Any, cast

from sqlalchemy import Table, event
from sqlalchemy.orm import Session

from haochaping.bulk_insert import insert_rows
from haochaping.clock import BEIJING
from haochaping.statistics.models import StatPending
from haochaping.workorders.models import WorkOrder

EVALUATION = "evaluation"
EXPIRED = "expired"
# ``ref_id`` a month (yyyymm) whose work orders changed: recounted whole by the fold.
ORDERS = "orders"

_PENDING = cast(Table, StatPending.__table__)


def evaluations_stored(session: Session, evaluation_ids: Collection[int]) -> None:
    _enqueue(session, EVALUATION, evaluation_ids, 1)


def evaluations_revoked(session: Session, evaluation_ids: Collection[int]) -> None:
    """An upheld appeal (F1-F5) takes the evaluation out of every figure (B2)."""
    _enqueue(session, EVALUATION, evaluation_ids, -1)


def occasions_expired(session: Session, occasion_ids: Collection[int]) -> None:
    """Occasions closed unrated (C7 without a default) lower the rating coverage."""
    _enqueue(session, EXPIRED, occasion_ids, 1)


def _enqueue(session: Session, kind: str, ids: Collection[int], sign: int) -> None:
    if ids:
        rows = [{"kind": kind, "ref_id": i, "sign": sign} for i in ids]
        insert_rows(session.connection(), _PENDING, rows)


@event.listens_for(Session, "before_flush")
def _orders_changed(session: Session, _context: Any, _instances: Any) -> None:
    """Any work order added or changed queues its month (F1-F6 figures, ``orders.refresh``):
    the sweeper marking one overdue as well as a step taken in the console."""
    months = set()
    for obj in chain(session.new, session.dirty):
        if isinstance(obj, WorkOrder) and obj.received_at is not None:
            local = obj.received_at.astimezone(BEIJING)
            months.add(local.year * 100 + local.month)
    for month in sorted(months):
        session.add(StatPending(kind=ORDERS, ref_id=month, sign=0))
