"""The sweep: every due deadline handled by its domain's task, batch by batch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from haochaping.cases import service as cases
from haochaping.cases.occasions import CLOSE_KIND, DEFAULT_KIND
from haochaping.channels import sms, sms_delivery
from haochaping.db import Database
from haochaping.deadlines import service as deadlines
from haochaping.deadlines.service import Handler, SweepResult
from haochaping.evaluations import service as evaluations
from haochaping.remarks import service as remarks
from haochaping.statistics import rollup
from haochaping.textreview import service as textreview
from haochaping.workorders import steps as workorder_steps


def _close(session: Session, occasion_id: int, now: datetime) -> None:
    cases.close_silent_occasion(session=session, occasion_id=occasion_id, now=now)


HANDLERS: dict[str, Handler] = {
    DEFAULT_KIND: evaluations.apply_default,
    CLOSE_KIND: _close,
    workorder_steps.WARN_KIND: workorder_steps.warn,
    workorder_steps.OVERDUE_KIND: workorder_steps.mark_overdue,
    textreview.TEXT_REVIEW_KIND: textreview.expire_review,
    sms.REMINDER_KIND: sms.send_reminder,
    remarks.ANSWER_KIND: remarks.mark_overdue,
}


def run_sweep(db: Database, now: datetime, *, batch: int = 500) -> SweepResult:
    """Process everything due at ``now``, one committed batch at a time. Idempotent."""
    total = SweepResult()
    while True:
        with db.transaction() as session:
            result = deadlines.sweep_batch(session=session, now=now, handlers=HANDLERS, limit=batch)
        for kind, n in result.processed.items():
            total.processed[kind] = total.processed.get(kind, 0) + n
        total.failed += result.failed
        # Stop when the due rows are exhausted, or when a batch made no progress at all: rows
        # that failed wait for the next sweep instead of being retried at once.
        if result.total + result.failed < batch or result.total == 0:
            break
    # Texts queued by the sweep (reminders) and since the last one go to the SMS gateway.
    sms_delivery.deliver_configured(db, now)
    # The rollups count what the sweep (defaults, expiries) and the requests since the last
    # sweep stored (issue 6).
    total.folded = fold_statistics(db)
    return total


def fold_statistics(db: Database, *, batch: int = 20000) -> int:
    """Fold the whole statistics queue, one committed batch at a time."""
    done = 0
    while True:
        with db.transaction() as session:
            taken = rollup.fold(session, limit=batch)
        done += taken
        if taken < batch:
            return done
