"""Importing e-mailed 综合点评 (D2, D3): each message is stored as a remark of the given region,
deduplicated by Message-ID, the sender's address kept as the (encrypted) contact (C9). A message
that cannot be read is reported with its reason and logged without any personal data."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.catalog import service as catalog
from haochaping.errors import DomainError
from haochaping.remarks import mail, service
from haochaping.remarks.models import RemarkSource
from haochaping.remarks.schemas import ContactIn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MailFailure:
    ref: str
    code: str
    message: str


@dataclass
class MailImportResult:
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    errors: list[MailFailure] = field(default_factory=list)


def _contact(parsed: mail.ParsedMail) -> ContactIn | None:
    name = parsed.sender_name[:50] if parsed.sender_name else None
    if parsed.sender_email is None and name is None:
        return None
    try:
        return ContactIn(email=parsed.sender_email, name=name)
    except ValidationError:
        # An address our rule does not accept: keep the name alone rather than lose the remark.
        return ContactIn(name=name) if name else None


def import_mails(
    *,
    session: Session,
    mails: Sequence[mail.RawMail],
    region_code: str,
    now: datetime,
    actor: str,
    progress: Callable[[], None] | None = None,
) -> MailImportResult:
    """Store each message as a remark of ``region_code`` (its own savepoint: one bad message
    never undoes the others); duplicates (same Message-ID) are skipped and counted."""
    catalog.get_region(session=session, code=region_code)
    result = MailImportResult()
    for raw in mails:
        try:
            parsed = mail.parse(raw.data)
            if service.is_duplicate_mail(session=session, message_hash=parsed.message_hash):
                result.duplicates.append(raw.ref)
            else:
                with session.begin_nested():
                    done = service.submit(
                        session=session,
                        region_code=region_code,
                        text=parsed.text,
                        source=RemarkSource.email,
                        actor=actor,
                        scope=Scope.all(),
                        now=now,
                        contact=_contact(parsed),
                        message_hash=parsed.message_hash,
                    )
                result.stored.append(done.remark.remark_no)
        except DomainError as exc:
            if exc.code == "remark_duplicate":
                result.duplicates.append(raw.ref)
            else:
                # The reference and the reason only: never the sender or the text (C9).
                log.warning("remark mail %s refused: %s", raw.ref, exc.code)
                result.errors.append(MailFailure(raw.ref, exc.code, exc.message))
        if progress is not None:
            progress()
    return result
