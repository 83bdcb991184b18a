"""Reading 综合点评: the scope rule, lists with filters, one remark in full, the citizen's own
status (receipt number + query code) and the published list (G1). Contacts are masked in every
answer here (C9); only ``contact_in_clear`` gives them, to an audited reveal."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.catalog import service as catalog
from haochaping.catalog.models import Organization, Region
from haochaping.clock import BEIJING
from haochaping.errors import DomainError, InvalidInput, NotFound
from haochaping.pii.cipher import blind_index
from haochaping.policy import service as policy
from haochaping.policy.schemas import Profile, RemarkCategory
from haochaping.privacy import mask_name, mask_phone
from haochaping.remarks import classify
from haochaping.remarks.models import Remark, RemarkEvent, RemarkSource, RemarkStatus
from haochaping.remarks.procedure import ACTION_NAMES, OPEN_STATUSES, STATUS_NAMES, allowed
from haochaping.remarks.schemas import (
    CATEGORY_NAMES,
    SOURCE_NAMES,
    ContactOut,
    PublicStatus,
    PublishedRemark,
    RemarkEventOut,
    RemarkOut,
    RemarkSummary,
)
from haochaping.textreview.service import suggest_redaction

EXCERPT_LENGTH = 60
PAGE_SIZE_MAX = 500
SORTS = {
    "received_desc": "收到时间（新的在前）",
    "received_asc": "收到时间（早的在前）",
    "due_asc": "答复期限（近的在前）",
}


def mask_email(email: str | None) -> str | None:
    """C9: ``z***@example.com``: the first character of the mailbox and the domain."""
    if not email:
        return email
    local, sep, domain = email.partition("@")
    if not sep:
        return "*" * len(email)
    return (local[:1] or "*") + "***@" + domain


def query_code_hash(remark_no: str, code: str) -> str:
    """Keyed hash of a receipt's query code (the code itself is never stored)."""
    return blind_index("remark_code", f"{remark_no}:{code.strip().upper()}")


def scope_clause(scope: Scope) -> ColumnElement[bool]:
    """A supervision office sees the remarks of its region subtrees; an organisation manager
    those routed to its organisations; a window clerk none."""
    if scope.everything:
        return true()
    conds: list[ColumnElement[bool]] = []
    if scope.region_paths:
        conds.append(Remark.region_code.in_(scope.region_codes()))
    if scope.org_ids:
        conds.append(Remark.org_id.in_(sorted(scope.org_ids)))
    return or_(*conds) if conds else false()


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """Marked overdue by the sweeper, or still unanswered past the deadline."""
    return or_(
        Remark.overdue.is_(True),
        and_(Remark.status.in_(sorted(OPEN_STATUSES)), Remark.due_at <= now),
    )


@dataclass(frozen=True)
class RemarkFilter:
    status: RemarkStatus | None = None
    category: RemarkCategory | None = None
    source: RemarkSource | None = None
    # A region code: the region and everything below it.
    region_code: str | None = None
    org_code: str | None = None
    received_from: datetime | None = None
    received_before: datetime | None = None
    overdue: bool | None = None


def _day(value: str, *, end: bool = False) -> datetime | None:
    """A Beijing calendar day as its first instant (the next day's, for an end)."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput("date_invalid", "日期格式不正确，应为 2026-11-01") from exc
    start = datetime.combine(day, time(), BEIJING)
    return start + timedelta(days=1) if end else start


def _choice(value: str, names: dict[str, str], what: str) -> str | None:
    if not value:
        return None
    if value not in names:
        raise InvalidInput("filter_invalid", f"{what}不正确，请重新选择")
    return value


def filter_from_form(
    status: str,
    category: str,
    source: str,
    region: str,
    org: str,
    received_from: str,
    received_to: str,
    overdue: str,
) -> RemarkFilter:
    """Filters as typed into the console's form (strings; empty = any); refused when one
    names no known value."""
    chosen_status = _choice(status, STATUS_NAMES, "办理状态")
    chosen_category = _choice(category, CATEGORY_NAMES, "类别")
    chosen_source = _choice(source, SOURCE_NAMES, "来源")
    return RemarkFilter(
        status=RemarkStatus(chosen_status) if chosen_status else None,
        category=RemarkCategory(chosen_category) if chosen_category else None,
        source=RemarkSource(chosen_source) if chosen_source else None,
        region_code=region or None,
        org_code=org or None,
        received_from=_day(received_from),
        received_before=_day(received_to, end=True),
        overdue=True if overdue == "1" else False if overdue == "0" else None,
    )


def _conditions(
    session: Session, filters: RemarkFilter, scope: Scope, now: datetime
) -> list[ColumnElement[bool]]:
    conds = [scope_clause(scope)]
    if filters.status is not None:
        conds.append(Remark.status == filters.status.value)
    if filters.category is not None:
        conds.append(Remark.category == filters.category.value)
    if filters.source is not None:
        conds.append(Remark.source == filters.source.value)
    if filters.region_code:
        codes = catalog.subtree_codes(session=session, code=filters.region_code)
        conds.append(Remark.region_code.in_(codes))
    if filters.org_code:
        org = catalog.get_org(session=session, code=filters.org_code)
        conds.append(Remark.org_id == org.id)
    if filters.received_from is not None:
        conds.append(Remark.received_at >= filters.received_from)
    if filters.received_before is not None:
        conds.append(Remark.received_at < filters.received_before)
    if filters.overdue is True:
        conds.append(overdue_clause(now))
    elif filters.overdue is False:
        conds.append(~overdue_clause(now))
    return conds


def _rows() -> Select[Remark, str, str, str]:
    return (
        select(
            Remark,
            Region.name.label("region_name"),
            Organization.code.label("org_code"),
            Organization.name.label("org_name"),
        )
        .join(Region, Region.code == Remark.region_code)
        .outerjoin(Organization, Organization.id == Remark.org_id)
    )


def _order(sort: str) -> list[Any]:
    if sort == "received_asc":
        return [Remark.received_at, Remark.id]
    if sort == "due_asc":
        return [Remark.due_at, Remark.id]
    return [Remark.received_at.desc(), Remark.id.desc()]


def check_page(page: int, page_size: int) -> None:
    if page < 1 or not 1 <= page_size <= PAGE_SIZE_MAX:
        raise InvalidInput(
            "page_invalid",
            f"页码应从 1 开始，每页条数应在 1 到 {PAGE_SIZE_MAX} 之间",
            details={"page": page, "page_size": page_size},
        )


def list_remarks(
    *,
    session: Session,
    scope: Scope,
    filters: RemarkFilter,
    now: datetime,
    page: int = 1,
    page_size: int = 50,
    sort: str = "received_desc",
) -> tuple[int, list[RemarkSummary]]:
    """Remarks inside ``scope`` matching ``filters``, one page at a time."""
    check_page(page, page_size)
    if sort not in SORTS:
        raise InvalidInput("sort_invalid", "排序方式不正确", details={"allowed": list(SORTS)})
    conds = _conditions(session, filters, scope, now)
    total = int(session.scalar(select(func.count(Remark.id)).where(*conds)) or 0)
    rows = session.execute(
        _rows()
        .where(*conds)
        .order_by(*_order(sort))
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return total, [summary(row, now) for row in rows]


def iter_remarks(
    *, session: Session, scope: Scope, filters: RemarkFilter, now: datetime, limit: int
) -> Sequence[Any]:
    """Rows for an export (remark, region_name, org_code, org_name), newest first."""
    conds = _conditions(session, filters, scope, now)
    return session.execute(
        _rows().where(*conds).order_by(*_order("received_desc")).limit(limit)
    ).all()


def _profile(name: str) -> Profile | None:
    try:
        return policy.get_profile(name=name)
    except DomainError:
        return None


def excerpt_of(text: str) -> str:
    masked = suggest_redaction(text)
    return masked if len(masked) <= EXCERPT_LENGTH else masked[:EXCERPT_LENGTH] + "…"


def is_overdue(remark: Remark, now: datetime) -> bool:
    return remark.overdue or (remark.status in OPEN_STATUSES and remark.due_at <= now)


def summary(row: Any, now: datetime) -> RemarkSummary:
    remark: Remark = row[0]
    profile = _profile(remark.profile_name)
    topics = profile.remarks.topic_names() if profile else {}
    return RemarkSummary(
        remark_no=remark.remark_no,
        source=RemarkSource(remark.source),
        source_name=SOURCE_NAMES.get(remark.source, remark.source),
        category=RemarkCategory(remark.category),
        category_name=CATEGORY_NAMES.get(remark.category, remark.category),
        topic=remark.topic,
        topic_name=topics.get(remark.topic, remark.topic) if remark.topic else None,
        status=RemarkStatus(remark.status),
        status_name=STATUS_NAMES.get(remark.status, remark.status),
        region_code=remark.region_code,
        region_name=row.region_name,
        org_code=row.org_code,
        org_name=row.org_name,
        excerpt=excerpt_of(remark.text),
        has_contact=bool(remark.contact_name or remark.contact_phone or remark.contact_email),
        received_at=remark.received_at,
        due_at=remark.due_at,
        overdue=is_overdue(remark, now),
        answered_at=remark.answered_at,
    )


def masked_contact(remark: Remark) -> ContactOut:
    return ContactOut(
        name=mask_name(remark.contact_name),
        phone=mask_phone(remark.contact_phone),
        email=mask_email(remark.contact_email),
    )


def not_found(remark_no: str) -> NotFound:
    return NotFound("remark_not_found", "未找到该意见建议", details={"remark_no": remark_no})


def get_remark(*, session: Session, remark_no: str, scope: Scope, now: datetime) -> RemarkOut:
    """One remark in full, contact masked (C9), with its timeline; absent if outside scope."""
    row = session.execute(_rows().where(Remark.remark_no == remark_no, scope_clause(scope))).first()
    if row is None:
        raise not_found(remark_no)
    remark: Remark = row[0]
    profile = _profile(remark.profile_name)
    events = session.scalars(
        select(RemarkEvent).where(RemarkEvent.remark_id == remark.id).order_by(RemarkEvent.id)
    ).all()
    return RemarkOut(
        **summary(row, now).model_dump(),
        text=remark.text,
        contact=masked_contact(remark),
        answer_text=remark.answer_text,
        answered_by=remark.answered_by,
        published_text=remark.published_text,
        published_at=remark.published_at,
        closed_at=remark.closed_at,
        profile_name=remark.profile_name,
        publishing=bool(profile and profile.remarks.publish),
        suggested_category=(
            classify.suggest_category(remark.text, profile.remarks)
            if profile
            else RemarkCategory.other
        ),
        suggested_topic=classify.suggest_topic(remark.text, profile.remarks) if profile else None,
        suggested_text=suggest_redaction(remark.text),
        allowed_actions=allowed(remark.status),
        events=[
            RemarkEventOut(
                at=e.at,
                actor=e.actor,
                action=e.action,
                action_name=ACTION_NAMES.get(e.action, e.action),
                from_status=e.from_status,
                to_status=e.to_status,
                note=e.note,
            )
            for e in events
        ],
    )


def contact_in_clear(
    *, session: Session, remark_no: str, scope: Scope
) -> tuple[Remark, ContactOut]:
    """C9: the contact in clear, for a caller whose unmask scope holds the remark (the caller
    records the reveal in the audit log)."""
    remark = session.scalar(
        select(Remark).where(Remark.remark_no == remark_no, scope_clause(scope))
    )
    if remark is None:
        raise not_found(remark_no)
    return remark, ContactOut(
        name=remark.contact_name,
        phone=remark.contact_phone,
        email=remark.contact_email,
        clear=True,
    )


def public_status(*, session: Session, remark_no: str, code: str) -> PublicStatus:
    """The citizen's own remark by receipt number and query code. A wrong code and an unknown
    number get the same answer, so that numbers cannot be probed."""
    refused = NotFound("remark_query_failed", "受理编号或查询码不正确，请核对回执后重新输入")
    row = session.execute(_rows().where(Remark.remark_no == remark_no.strip().upper())).first()
    if row is None:
        # Hash anyway: the refusal takes as long as a wrong code.
        query_code_hash(remark_no, code)
        raise refused
    remark: Remark = row[0]
    if not hmac.compare_digest(remark.query_code_hash, query_code_hash(remark.remark_no, code)):
        raise refused
    answered = remark.status in (RemarkStatus.answered.value, RemarkStatus.published.value) or (
        remark.status == RemarkStatus.closed.value and remark.answer_text is not None
    )
    return PublicStatus(
        remark_no=remark.remark_no,
        status_name=STATUS_NAMES.get(remark.status, remark.status),
        category_name=CATEGORY_NAMES.get(remark.category, remark.category),
        region_name=row.region_name,
        org_name=row.org_name,
        received_at=remark.received_at,
        due_at=remark.due_at,
        answer_text=remark.answer_text if answered else None,
        answered_at=remark.answered_at if answered else None,
        published=remark.status == RemarkStatus.published.value,
    )


def published(
    *, session: Session, page: int = 1, page_size: int = 20, region_code: str | None = None
) -> tuple[int, list[PublishedRemark]]:
    """G1: published remarks, newest first: the approved text and the answer, never a contact
    (C9). Only remarks whose status is ``published`` (the profile allowed it when published)."""
    check_page(page, page_size)
    conds: list[ColumnElement[bool]] = [Remark.status == RemarkStatus.published.value]
    if region_code:
        conds.append(
            Remark.region_code.in_(catalog.subtree_codes(session=session, code=region_code))
        )
    total = int(session.scalar(select(func.count(Remark.id)).where(*conds)) or 0)
    rows = session.execute(
        _rows()
        .where(*conds)
        .order_by(Remark.published_at.desc(), Remark.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    items = []
    for row in rows:
        remark: Remark = row[0]
        profile = _profile(remark.profile_name)
        topics = profile.remarks.topic_names() if profile else {}
        items.append(
            PublishedRemark(
                remark_no=remark.remark_no,
                month=remark.received_at.astimezone(BEIJING).strftime("%Y年%m月"),
                region_name=row.region_name,
                org_name=row.org_name,
                category_name=CATEGORY_NAMES.get(remark.category, remark.category),
                topic_name=topics.get(remark.topic) if remark.topic else None,
                text=remark.published_text or "",
                answer_text=remark.answer_text or "",
                answered_at=remark.answered_at or remark.updated_at,
            )
        )
    return total, items
