"""Putting texts for raters in the SMS outbox (C5, D1; F1 feedback to the rater)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from haochaping.messaging.models import OutboxMessage

# GB 短信 segments: a text longer than this is split by the carrier; keep ours to two.
MAX_TEXT = 140


def enqueue(
    *, session: Session, phone: str, text: str, purpose: str, ref: str, now: datetime
) -> OutboxMessage:
    """Queue one text; the gateway worker of the Channels issue sends it."""
    message = OutboxMessage(
        phone=phone, text=text[:MAX_TEXT], purpose=purpose, ref=ref, created_at=now
    )
    session.add(message)
    return message
