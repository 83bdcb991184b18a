"""The SMS outbox and its bookkeeping (C5, D1, D4; F1 feedback to the rater): queueing, the
delivery states queued -> sent -> delivered / failed with retries, opt-outs, inbound replies."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from haochaping.messaging.models import InboundMessage, OptOut, OutboxMessage, OutboxStatus
from haochaping.pii.cipher import blind_index

# GB 短信 segments: a text longer than this is split by the carrier; keep ours to two.
MAX_TEXT = 140
# Waits before the 2nd, 3rd... attempt after a gateway failure; after the last one the text is
# marked failed. The gateway is ours to run, not a province's rule, so these are not policy.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1


def phone_index(phone: str) -> str:
    """The keyed blind index a phone is matched by (never the clear phone, C9)."""
    return blind_index("phone", phone)


def enqueue(
    *,
    session: Session,
    phone: str,
    text: str,
    purpose: str,
    ref: str,
    now: datetime,
    occasion_id: int | None = None,
) -> OutboxMessage:
    """Queue one text; the sweeper's delivery worker sends it through the gateway."""
    message = OutboxMessage(
        phone=phone,
        phone_index=phone_index(phone),
        text=text[:MAX_TEXT],
        purpose=purpose,
        ref=ref,
        occasion_id=occasion_id,
        status=OutboxStatus.queued.value,
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )
    session.add(message)
    session.flush()
    return message


def is_opted_out(*, session: Session, phone: str) -> bool:
    """Whether the phone replied "TD" (no more reminders)."""
    return bool(session.scalar(select(exists().where(OptOut.phone_index == phone_index(phone)))))


def opt_out(*, session: Session, phone: str, now: datetime) -> bool:
    """Record the phone's opt-out; False when it had opted out already."""
    key = phone_index(phone)
    if session.get(OptOut, key) is not None:
        return False
    session.add(OptOut(phone_index=key, created_at=now))
    session.flush()
    return True


def purpose_sent_for(*, session: Session, occasion_id: int, purpose: str) -> bool:
    """Whether a text of ``purpose`` about this occasion was queued already (once per occasion)."""
    return bool(
        session.scalar(
            select(
                exists().where(
                    OutboxMessage.occasion_id == occasion_id, OutboxMessage.purpose == purpose
                )
            )
        )
    )


def latest_about(*, session: Session, phone: str, purpose: str) -> OutboxMessage | None:
    """The latest text of ``purpose`` queued to this phone (the reminder a reply answers)."""
    return session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.phone_index == phone_index(phone), OutboxMessage.purpose == purpose)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .limit(1)
    ).first()


def claim_due(*, session: Session, now: datetime, limit: int) -> list[OutboxMessage]:
    """Up to ``limit`` queued texts whose time has come, oldest first. On PostgreSQL they are
    locked (SKIP LOCKED) so that a second worker takes others; SQLite's write lock serialises."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.status == OutboxStatus.queued.value,
                (OutboxMessage.next_attempt_at.is_(None)) | (OutboxMessage.next_attempt_at <= now),
            )
            .order_by(OutboxMessage.created_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def mark_sent(*, message: OutboxMessage, gateway_id: str, now: datetime) -> None:
    message.attempts += 1
    message.status = OutboxStatus.sent.value
    message.gateway_id = gateway_id[:64]
    message.sent_at = now
    message.next_attempt_at = None
    message.last_error = None


def mark_attempt_failed(*, message: OutboxMessage, error: str, now: datetime) -> bool:
    """Count a failed attempt: the text waits for the next one (backoff), or is marked failed
    after ``MAX_ATTEMPTS``. Returns whether it will be retried."""
    message.attempts += 1
    message.last_error = error[:2000]
    if message.attempts >= MAX_ATTEMPTS:
        message.status = OutboxStatus.failed.value
        message.next_attempt_at = None
        return False
    message.next_attempt_at = now + RETRY_DELAYS[message.attempts - 1]
    return True


def apply_delivery_report(
    *, session: Session, gateway_id: str, delivered: bool, error: str | None, now: datetime
) -> OutboxMessage | None:
    """The carrier's word on a sent text: delivered or failed. A report for a text already
    delivered changes nothing (gateways resend reports)."""
    message = session.scalars(
        select(OutboxMessage).where(OutboxMessage.gateway_id == gateway_id).limit(1)
    ).first()
    if message is None:
        return None
    if message.status == OutboxStatus.delivered.value:
        return message
    if delivered:
        message.status = OutboxStatus.delivered.value
        message.delivered_at = now
    else:
        message.status = OutboxStatus.failed.value
        message.last_error = (error or "undelivered")[:2000]
    return message


def find_inbound(*, session: Session, gateway_id: str) -> InboundMessage | None:
    return session.scalars(
        select(InboundMessage).where(InboundMessage.gateway_id == gateway_id).limit(1)
    ).first()


def record_inbound(
    *, session: Session, gateway_id: str, phone: str, text: str, now: datetime
) -> InboundMessage:
    """Keep a rater's text as it came (its outcome is filled in by the caller)."""
    message = InboundMessage(
        gateway_id=gateway_id,
        phone=phone,
        phone_index=phone_index(phone),
        text=text,
        received_at=now,
        outcome="received",
    )
    session.add(message)
    session.flush()
    return message


def counts_by_status(*, session: Session) -> dict[str, int]:
    """How many texts are in each delivery state."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    ).all()
    return {status: n for status, n in rows}
