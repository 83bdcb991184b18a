"""综合点评 (D2, D3, G1): intake from every channel, classification and routing by the office,
the organisation's answer, publication where the profile says so, and the answer deadline.

Keyword-only, inside the caller's transaction (flush, never commit), with the acting principal's
scope. Every change goes through ``procedure.transition`` (an event row each). The contact is
personal data (C9): encrypted by the column type, never written to events or the audit log.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.audit.actions import AuditAction
from haochaping.audit.service import record
from haochaping.calendar.service import WorkCalendar
from haochaping.catalog import service as catalog
from haochaping.catalog.models import Organization, Region
from haochaping.clock import local_date
from haochaping.deadlines import service as deadlines
from haochaping.errors import Conflict, DomainError, InvalidInput
from haochaping.policy import service as policy
from haochaping.policy.schemas import RemarkCategory
from haochaping.remarks import classify, reading
from haochaping.remarks.models import Remark, RemarkSource, RemarkStatus
from haochaping.remarks.procedure import OPEN_STATUSES, RemarkAction, event, transition
from haochaping.remarks.schemas import TEXT_MAX, ContactIn
from haochaping.textreview.service import first_addition, suggest_redaction

# The deadline kind the sweeper hands to ``mark_overdue``.
ANSWER_KIND = "remark_answer"
SYSTEM_ACTOR = "system"
# Letters and digits that cannot be misread for one another (no 0/O, 1/I/L).
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 8


class OutOfScope(DomainError):
    status_code = 403


@dataclass(frozen=True)
class Submitted:
    remark: Remark
    # The private query code, known only now (stored hashed); None on an idempotent retry.
    query_code: str | None
    created: bool


def _new_number(session: Session, now: datetime) -> str:
    day = f"ZP{local_date(now):%Y%m%d}-"
    for _ in range(20):
        number = f"{day}{secrets.randbelow(10**6):06d}"
        if not session.scalar(select(exists().where(Remark.remark_no == number))):
            return number
    raise Conflict("remark_number_exhausted", "今日受理编号已用尽，请稍后再试")


def _clean_contact(contact: ContactIn | None) -> tuple[str | None, str | None, str | None]:
    if contact is None:
        return None, None, None
    return (contact.name or None, contact.phone or None, contact.email or None)


def _org_inside(session: Session, org: Organization, region: Region) -> bool:
    org_region = session.get(Region, org.region_code)
    return org_region is not None and org_region.path.startswith(region.path)


def submit(
    *,
    session: Session,
    region_code: str,
    text: str,
    source: RemarkSource,
    actor: str,
    scope: Scope,
    now: datetime,
    category: RemarkCategory | None = None,
    org_code: str | None = None,
    contact: ContactIn | None = None,
    client_id: int | None = None,
    external_id: str | None = None,
    message_hash: str | None = None,
) -> Submitted:
    """Receive one remark (D2, D3): number it, give it a query code, suggest its category and
    topic from the profile's keywords, and schedule its answer deadline. A business system's
    retry with the same ``external_id`` returns the first one (``created`` False); the same
    id with another text is refused (409)."""
    body = (text or "").strip()
    if not body:
        raise InvalidInput("remark_text_required", "请填写意见建议的内容")
    if len(body) > TEXT_MAX:
        raise InvalidInput(
            "remark_text_too_long",
            f"意见建议的内容不能超过 {TEXT_MAX} 字",
            details={"max": TEXT_MAX},
        )
    if client_id is not None and external_id is not None:
        found = _by_external(session, client_id, external_id, body)
        if found is not None:
            return found
    region = catalog.get_region(session=session, code=region_code)
    if not scope.contains_region(session, region.code):
        raise OutOfScope(
            "out_of_scope", "该地区不在您的授权范围内", details={"region": region.code}
        )
    org = None
    if org_code:
        org = catalog.get_org(session=session, code=org_code)
        if not _org_inside(session, org, region):
            raise InvalidInput(
                "remark_org_outside_region",
                "所选部门不属于所选地区，请重新选择",
                details={"org": org_code, "region": region.code},
            )
    profile = policy.profile_for_region(session=session, region_code=region.code)
    due = WorkCalendar.load(session).add(now, profile.remarks.answer_within)
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    number = _new_number(session, now)
    name, phone, email = _clean_contact(contact)
    remark = Remark(
        remark_no=number,
        query_code_hash=reading.query_code_hash(number, code),
        source=source.value,
        category=(category or classify.suggest_category(body, profile.remarks)).value,
        topic=classify.suggest_topic(body, profile.remarks),
        status=RemarkStatus.received.value,
        region_code=region.code,
        org_id=org.id if org else None,
        text=body,
        contact_name=name,
        contact_phone=phone,
        contact_email=email,
        profile_name=profile.name,
        profile_version=profile.version,
        client_id=client_id,
        external_id=external_id,
        message_hash=message_hash,
        entered_by=actor,
        received_at=now,
        updated_at=now,
        due_at=due.at,
        due_estimated=due.estimated,
    )
    try:
        with session.begin_nested():
            session.add(remark)
            session.flush()
    except IntegrityError:
        # A concurrent retry of the same external id (or e-mail) got in first.
        if client_id is not None and external_id is not None:
            found = _by_external(session, client_id, external_id, body)
            if found is not None:
                return found
        raise Conflict("remark_duplicate", "该意见建议已经提交过") from None
    event(
        session,
        remark,
        at=now,
        actor=actor,
        action=RemarkAction.submit,
        to_status=RemarkStatus.received.value,
        # Never the contact (C9): only whether there is one.
        data={
            "source": source.value,
            "with_contact": any((name, phone, email)),
            "category": remark.category,
        },
    )
    deadlines.schedule(
        session=session,
        kind=ANSWER_KIND,
        subject_id=remark.id,
        due_at=due.at,
        estimated=due.estimated,
    )
    session.flush()
    return Submitted(remark=remark, query_code=code, created=True)


def _by_external(session: Session, client_id: int, external_id: str, text: str) -> Submitted | None:
    found = session.scalar(
        select(Remark).where(Remark.client_id == client_id, Remark.external_id == external_id)
    )
    if found is None:
        return None
    if found.text != text:
        raise Conflict(
            "remark_external_id_reused",
            "该工单编号已用于另一条不同内容的意见建议",
            details={"external_id": external_id, "remark_no": found.remark_no},
        )
    return Submitted(remark=found, query_code=None, created=False)


def is_duplicate_mail(*, session: Session, message_hash: str) -> bool:
    """Whether an e-mail with this Message-ID hash was imported already."""
    return bool(session.scalar(select(exists().where(Remark.message_hash == message_hash))))


def _locked(session: Session, remark_no: str, scope: Scope) -> Remark:
    """The remark inside ``scope``, row-locked on PostgreSQL and re-read: two officials acting
    at once cannot both move it."""
    remark = session.scalar(
        select(Remark)
        .where(Remark.remark_no == remark_no, reading.scope_clause(scope))
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if remark is None:
        raise reading.not_found(remark_no)
    return remark


def route(
    *,
    session: Session,
    remark_no: str,
    actor: str,
    scope: Scope,
    now: datetime,
    org_code: str,
    category: RemarkCategory,
    topic: str | None,
    note: str | None = None,
) -> Remark:
    """The office classifies the remark and routes it to an organisation inside its scope
    (again, to re-route it before the answer)."""
    remark = _locked(session, remark_no, scope)
    profile = policy.get_profile(name=remark.profile_name)
    topics = profile.remarks.topic_names()
    if topic and topic not in topics:
        raise InvalidInput(
            "remark_topic_invalid",
            "所选主题不在本地区的分类目录中",
            details={"topic": topic, "allowed": list(topics)},
        )
    org = catalog.get_org(session=session, code=org_code)
    if not scope.contains_org(session, org.id, org.region_code):
        raise OutOfScope(
            "remark_org_out_of_scope", "只能转交给本辖区内的政务服务机构", details={"org": org_code}
        )
    previous = remark.org_id
    transition(
        session,
        remark,
        RemarkAction.route,
        at=now,
        actor=actor,
        note=note,
        data={"org": org.code, "category": category.value, "topic": topic, "from_org": previous},
    )
    remark.org_id = org.id
    remark.category = category.value
    remark.topic = topic or None
    session.flush()
    return remark


def answer(
    *, session: Session, remark_no: str, actor: str, scope: Scope, now: datetime, text: str
) -> Remark:
    """The routed organisation (its manager) or the office answers; the deadline is done."""
    remark = _locked(session, remark_no, scope)
    body = text.strip()
    if not body:
        raise InvalidInput("remark_answer_required", "请填写答复内容")
    transition(
        session,
        remark,
        RemarkAction.answer,
        at=now,
        actor=actor,
        data={"length": len(body), "late": remark.due_at <= now},
    )
    remark.answer_text = body
    remark.answered_by = actor
    remark.answered_at = now
    deadlines.cancel(session=session, kinds=[ANSWER_KIND], subject_ids=[remark.id])
    session.flush()
    return remark


def publish(
    *,
    session: Session,
    remark_no: str,
    actor: str,
    scope: Scope,
    now: datetime,
    text: str | None = None,
    ip: str = "",
) -> Remark:
    """G1: publish the answered remark with its answer, only where the remark's profile says
    ``remarks.publish``. ``text`` may only delete or mask (``*``) characters of the original;
    without it the system's suggestion (phone, ID numbers, abusive words masked) is used."""
    remark = _locked(session, remark_no, scope)
    profile = policy.get_profile(name=remark.profile_name)
    if not profile.remarks.publish:
        raise Conflict(
            "remark_publishing_disabled",
            "按本地区政策配置，意见建议及答复不在网上公开，请选择“办结（不公开）”",
            details={"profile": profile.name},
        )
    given = suggest_redaction(remark.text) if text is None else text.replace("\r\n", "\n")
    at = first_addition(remark.text, given)
    if at is not None:
        raise InvalidInput(
            "remark_not_redaction",
            "公开的内容只能删除原文中的字，或用“*”遮盖，不能增加或改写文字",
            details={"position": at},
        )
    shown = given.strip()
    if not shown:
        raise InvalidInput("remark_published_text_required", "公开的内容不能为空")
    transition(
        session,
        remark,
        RemarkAction.publish,
        at=now,
        actor=actor,
        data={"text_length": len(remark.text), "published_length": len(shown)},
    )
    remark.published_text = shown
    remark.published_at = now
    session.flush()
    record(
        session,
        now=now,
        actor=actor,
        action=AuditAction.remark_published,
        target=f"remark:{remark.remark_no}",
        details={"profile": profile.name, "redacted": shown != remark.text},
        ip=ip,
    )
    return remark


def close(
    *,
    session: Session,
    remark_no: str,
    actor: str,
    scope: Scope,
    now: datetime,
    note: str | None = None,
) -> Remark:
    """Close without publishing: an answered remark, or one not admissible at all."""
    remark = _locked(session, remark_no, scope)
    transition(session, remark, RemarkAction.close, at=now, actor=actor, note=note)
    remark.closed_at = now
    deadlines.cancel(session=session, kinds=[ANSWER_KIND], subject_ids=[remark.id])
    session.flush()
    return remark


def mark_overdue(session: Session, remark_id: int, now: datetime) -> None:
    """Sweeper task: an unanswered remark past its answer deadline is marked overdue, once."""
    remark = session.scalar(
        select(Remark)
        .where(Remark.id == remark_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if (
        remark is None
        or remark.overdue
        or remark.status not in OPEN_STATUSES
        or remark.due_at > now
    ):
        return
    remark.overdue = True
    event(
        session,
        remark,
        at=remark.due_at,
        actor=SYSTEM_ACTOR,
        action=RemarkAction.overdue,
        note="超过答复期限仍未答复",
    )
    session.flush()
