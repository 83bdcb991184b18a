"""Delivering the SMS outbox through the gateway: batch by batch, each batch committed, failed
attempts retried with backoff, a log line on every failure (the phone masked, C9)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from haochaping.channels.sms_gateway import GatewayError, OutgoingSms, SmsGateway
from haochaping.channels.sms_gateway import gateway_from_settings as _configured
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.messaging import service as messaging
from haochaping.messaging.models import OutboxMessage, OutboxStatus
from haochaping.privacy import mask_phone

log = logging.getLogger(__name__)


@dataclass
class DeliveryResult:
    sent: int = 0
    failed_attempts: int = 0
    # Texts given up after the last attempt.
    given_up: int = 0

    @property
    def tried(self) -> int:
        return self.sent + self.failed_attempts


def due_count(db: Database, now: datetime) -> int:
    """How many queued texts a flush at ``now`` would try."""
    with db.transaction() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.queued.value,
                    (OutboxMessage.next_attempt_at.is_(None))
                    | (OutboxMessage.next_attempt_at <= now),
                )
            )
            or 0
        )


def flush_outbox(
    db: Database,
    now: datetime,
    gateway: SmsGateway,
    *,
    batch: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> DeliveryResult:
    """Try every queued text that is due at ``now`` once, ``batch`` per committed transaction.
    A text the gateway refuses waits for its next attempt (``messaging.RETRY_DELAYS``)."""
    size = batch or get_settings().sms_batch_size
    result = DeliveryResult()
    while True:
        with db.transaction() as session:
            messages = messaging.claim_due(session=session, now=now, limit=size)
            for message in messages:
                _deliver(message, gateway, now, result)
                if on_progress is not None:
                    on_progress(1)
        # Every claimed text was either sent or moved past ``now``: a short batch is the last.
        if len(messages) < size:
            return result


def _deliver(
    message: OutboxMessage, gateway: SmsGateway, now: datetime, result: DeliveryResult
) -> None:
    outgoing = OutgoingSms(ref=str(message.id), phone=message.phone, text=message.text)
    try:
        gateway_id = gateway.send(outgoing)
    except Exception as exc:  # any failure of the gateway is one failed attempt, never a crash
        reason = str(exc) if isinstance(exc, GatewayError) else f"{type(exc).__name__}: {exc}"
        retried = messaging.mark_attempt_failed(message=message, error=reason, now=now)
        result.failed_attempts += 1
        if not retried:
            result.given_up += 1
        log.warning(
            "sms #%s (%s) to %s failed, attempt %s%s: %s",
            message.id,
            message.purpose,
            mask_phone(message.phone),
            message.attempts,
            "" if retried else ", given up",
            reason,
        )
        return
    messaging.mark_sent(message=message, gateway_id=gateway_id, now=now)
    result.sent += 1


def deliver_configured(db: Database, now: datetime) -> DeliveryResult | None:
    """The sweeper's step: flush through the configured gateway; None without one (texts wait)."""
    gateway = _configured()
    if gateway is None:
        return None
    try:
        result = flush_outbox(db, now, gateway)
    finally:
        gateway.close()
    if result.tried:
        log.info(
            "sms: %s sent, %s failed attempts, %s given up",
            result.sent,
            result.failed_attempts,
            result.given_up,
        )
    return result
