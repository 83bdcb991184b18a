"""Queueing what the rollups must count, in the transaction that makes it (an insert only, so
concurrent ratings never wait on a shared rollup row). ``rollup.fold`` empties the queue."""

from __future__ import annotations

from collections.abc import Collection
from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from haochaping.bulk_insert import insert_rows
from haochaping.statistics.models import StatPending

EVALUATION = "evaluation"
EXPIRED = "expired"

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
