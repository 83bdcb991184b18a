"""监督查评 (D2, ZZ): recording callbacks of sampled raters, and revealing a phone to call.

An item's life is a small state machine held as data (``TRANSITIONS``): a pending item takes
calls that got no answer (``no_answer``, one more attempt) until an outcome is recorded —
``confirmed``, ``denied`` (the rater denies having rated: a fraud signal, C10, G4) or
``unreachable`` (only after ``supervision.callback_attempts`` calls). A recorded outcome changes
only by a correction with a reason. Every step writes an event row; nothing is overwritten
without one, so the history of an outcome is its events. The evaluation itself is never
touched: an outcome is a finding, not a revocation.

The rater's phone is shown masked (C9). A holder of ``callbacks:manage`` may reveal it for one
item in scope to call; every reveal is written to the audit log with the sample as its reason,
and the phone never appears in the log, the events or any error.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.audit.service import record
from haochaping.callbacks.models import (
    CallbackEvent,
    CallbackItem,
    CallbackSample,
    Outcome,
    SampleStatus,
)
from haochaping.callbacks.reading import get_item, item_not_found, item_row, item_scope
from haochaping.callbacks.schemas import RESULT_NAMES, CallResult, ItemOut, RevealOut
from haochaping.errors import Conflict, InvalidInput
from haochaping.policy import service as policy

ACTION_ATTEMPT = "attempt"
ACTION_RECORDED = "recorded"
ACTION_CORRECTED = "corrected"
ACTION_REVEALED = "phone_revealed"
ACTION_CLOSED = "closed"

_OUTCOMES = [o.value for o in Outcome]
# (current outcome, call result) -> the event it writes. Anything else is refused.
TRANSITIONS: dict[tuple[str | None, str], str] = {
    (None, CallResult.no_answer.value): ACTION_ATTEMPT,
    **{(None, o): ACTION_RECORDED for o in _OUTCOMES},
    **{(current, o): ACTION_CORRECTED for current in _OUTCOMES for o in _OUTCOMES},
}


def _locked(session: Session, item_id: int, scope: Scope) -> CallbackItem:
    """The item, row-locked on PostgreSQL and re-read: two officials recording at once cannot
    both pass the transition check (SQLite's BEGIN IMMEDIATE serialises writers already)."""
    item = session.scalar(
        select(CallbackItem)
        .where(CallbackItem.id == item_id, item_scope(scope))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if item is None:
        raise item_not_found(item_id)
    return item


def _check(item: CallbackItem, result: CallResult, reason: str | None) -> str:
    action = TRANSITIONS.get((item.outcome, result.value))
    if action is None:
        raise Conflict(
            "callback_outcome_recorded",
            "该评价已登记回访结果；如需更正，请选择更正后的结果并说明理由",
            details={"id": item.id, "outcome": item.outcome, "result": result.value},
        )
    if action == ACTION_CORRECTED and not reason:
        raise InvalidInput(
            "callback_reason_required",
            "更正已登记的回访结果须说明理由",
            details={"id": item.id, "outcome": item.outcome},
        )
    return action


def record_call(
    *,
    session: Session,
    item_id: int,
    scope: Scope,
    actor: str,
    now: datetime,
    result: CallResult,
    stated_level: int | None = None,
    note: str | None = None,
    reason: str | None = None,
) -> ItemOut:
    """D2: record one call of a sampled rater (``no_answer`` or an outcome) or correct an
    outcome (``reason`` required). ``stated_level`` only with ``confirmed``: the level the rater
    states now, kept apart; the evaluation never changes."""
    item = _locked(session, item_id, scope)
    action = _check(item, result, reason)
    if stated_level is not None and result is not CallResult.confirmed:
        raise InvalidInput(
            "callback_stated_level_invalid",
            "只有评价人确认作出评价时，才能登记其现在表示的满意程度",
            details={"result": result.value},
        )
    if stated_level is not None and not 1 <= stated_level <= 5:
        raise InvalidInput(
            "callback_stated_level_invalid",
            "满意程度应为 1 到 5 级",
            details={"stated_level": stated_level},
        )
    calls = item.attempts + (0 if action == ACTION_CORRECTED else 1)
    if result is CallResult.unreachable:
        needed = policy.profile_for_region(
            session=session, region_code=item.region_code
        ).supervision.callback_attempts
        if calls < needed:
            raise InvalidInput(
                "callback_attempts_too_few",
                f"联系 {needed} 次仍未接通方可登记为“多次联系未果”，目前已联系 {calls} 次",
                details={"attempts": calls, "needed": needed},
            )
    before = item.outcome
    item.attempts = calls
    if action != ACTION_CORRECTED:
        item.last_attempt_at = now
    if action != ACTION_ATTEMPT:
        item.outcome = result.value
        item.stated_level = stated_level if stated_level != item.level else None
        item.note = note or None
        item.outcome_at = now
        item.outcome_by = actor
    session.add(
        CallbackEvent(
            sample_id=item.sample_id,
            item_id=item.id,
            at=now,
            actor=actor,
            action=action,
            from_outcome=before,
            to_outcome=item.outcome,
            note=(reason if action == ACTION_CORRECTED else note) or None,
            data={
                "result": result.value,
                "result_name": RESULT_NAMES[result.value],
                "attempts": item.attempts,
                "stated_level": item.stated_level,
                **({"note": note} if action == ACTION_CORRECTED and note else {}),
            },
        )
    )
    session.flush()
    if action == ACTION_RECORDED:
        _close_if_done(session, item.sample_id, actor, now)
    return get_item(session=session, item_id=item.id, scope=scope)


def _close_if_done(session: Session, sample_id: int, actor: str, now: datetime) -> None:
    """A sample whose every item has an outcome is closed: its evaluations may be drawn again."""
    pending = session.scalar(
        select(CallbackItem.id)
        .where(CallbackItem.sample_id == sample_id, CallbackItem.outcome.is_(None))
        .limit(1)
    )
    if pending is not None:
        return
    sample = session.get(CallbackSample, sample_id, with_for_update=True)
    if sample is None or sample.status != SampleStatus.open.value:
        return
    sample.status = SampleStatus.closed.value
    sample.closed_at = now
    session.execute(
        update(CallbackItem)
        .where(CallbackItem.sample_id == sample_id)
        .values(in_open_sample=False)
        .execution_options(synchronize_session=False)
    )
    session.add(CallbackEvent(sample_id=sample_id, at=now, actor=actor, action=ACTION_CLOSED))
    session.flush()


def reveal_phone(
    *, session: Session, item_id: int, scope: Scope, actor: str, now: datetime, ip: str = ""
) -> RevealOut:
    """C9, D2: the rater's phone in clear for one sampled item in ``scope``, to call them.
    Recorded in the audit log (reason: the sample) and as an event; the phone itself in
    neither."""
    row = item_row(session, item_id, scope)
    item: CallbackItem = row[0]
    session.add(
        CallbackEvent(
            sample_id=item.sample_id,
            item_id=item.id,
            at=now,
            actor=actor,
            action=ACTION_REVEALED,
            data={"fields": ["phone"]},
        )
    )
    session.flush()
    record(
        session,
        now=now,
        actor=actor,
        action="pii_unmasked",
        target=f"callback_item:{item.id}",
        details={
            "reason": f"监督查评回访：第 {item.sample_id} 号抽查样本第 {item.position} 条",
            "sample_id": item.sample_id,
            "evaluation_id": item.evaluation_id,
            "fields": ["phone"],
        },
        ip=ip,
    )
    return RevealOut(item_id=item.id, phone=row.applicant_phone)
