"""E1: the supervision office reviews the labels and text of bad reviews before publication.

A review is opened, in the transaction that stores the evaluations, for every 不满意 / 非常不满意
evaluation with labels or text; it is due ``profile.text_review.window`` after the rating (15
natural days in GX, Art.8). A reviewer approves it, or redacts what is published: the text may only
lose characters or have them masked, the labels may only be dropped. When nobody decides in time,
the sweeper applies the profile's silence rule. The evaluation itself (its level, its score) is
never touched: only what may be published is decided here.

Redaction rule (``is_redaction_of``): the published text must be obtainable from the original by
deleting characters and by replacing single characters with a mask, ``*`` or ``＊``. Equivalently,
reading both left to right, every character of the published text either equals a later character
of the original or is a mask standing for one. So nothing can be added or reworded, and the
published text is never longer than the original.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, case, false, func, select, true
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.audit.service import record
from haochaping.bulk_insert import insert_rows
from haochaping.calendar.schemas import DueTime
from haochaping.calendar.service import WorkCalendar
from haochaping.cases.models import Case
from haochaping.catalog import service as catalog
from haochaping.catalog.models import Region
from haochaping.deadlines import service as deadlines
from haochaping.errors import Conflict, DomainError, InvalidInput, NotFound
from haochaping.evaluations.models import Evaluation
from haochaping.policy import service as policy
from haochaping.policy.schemas import Profile
from haochaping.textreview.models import ReviewStatus, TextReview
from haochaping.textreview.schemas import (
    STATUS_NAMES,
    LabelOut,
    PublishedText,
    TextReviewOut,
    TextReviewSummary,
)

# The deadline kind the sweeper hands to ``expire_review``.
TEXT_REVIEW_KIND = "text_review"

SYSTEM_ACTOR = "system"
ACTION_APPROVED = "text_review_approved"
ACTION_REDACTED = "text_review_redacted"
ACTION_EXPIRED = "text_review_expired"

MASKS = frozenset({"*", "＊"})
PUBLISHED = (
    ReviewStatus.approved.value,
    ReviewStatus.redacted.value,
    ReviewStatus.approved_by_silence.value,
)
EXCERPT_LENGTH = 60
PAGE_SIZE_MAX = 500
# Ids per IN list: far below the parameter limits of SQLite and PostgreSQL.
_CHUNK = 1000
_REVIEWS = cast(Table, TextReview.__table__)


# ---- suggestions and the redaction rule ---------------------------------------------------

# A mainland mobile number, possibly written 138-1234-5678 or 138 1234 5678.
_PHONE = re.compile(r"(?<![0-9０-９])1[3-9][0-9](?:[ -]?[0-9]{4}){2}(?![0-9０-９])")
# An 18-character resident ID number (the last may be X).
_ID_NO = re.compile(r"(?<![0-9A-Za-z])[0-9]{17}[0-9Xx](?![0-9A-Za-z])")
# Abusive words masked by default. "垃圾" is kept in the names of services (垃圾分类…).
_ABUSIVE = (
    "王八蛋 狗东西 草泥马 他妈的 傻逼 傻比 煞笔 混蛋 去死 滚蛋 畜生 废物 贱人 脑残 白痴 妈的 操你"
)
ABUSIVE_WORDS: tuple[str, ...] = tuple(_ABUSIVE.split())
_ABUSE = re.compile(
    "|".join(
        [
            *(re.escape(w) for w in ABUSIVE_WORDS),
            r"垃圾(?!分类|处理|清运|回收|桶|站|箱)",
            r"(?<![A-Za-z])[Ss][Bb](?![A-Za-z])",
        ]
    )
)


def _mask(match: re.Match[str]) -> str:
    # One mask per character, separators included: the suggestion is itself a valid redaction.
    return "*" * len(match.group(0))


def suggest_redaction(text: str) -> str:
    """The text with ID numbers, mobile numbers and abusive words masked by ``*`` (E1): a
    suggestion the reviewer edits, never applied without a decision."""
    for pattern in (_ID_NO, _PHONE, _ABUSE):
        text = pattern.sub(_mask, text)
    return text


def first_addition(original: str, redacted: str) -> int | None:
    """The index in ``redacted`` of the first character that is neither a kept character of
    ``original`` (in order) nor a mask standing for one; None when ``redacted`` is a redaction.

    Greedy matching is exact here: taking the earliest possible original character for each
    redacted one always leaves the most of the original for the rest."""
    position = 0
    for index, char in enumerate(redacted):
        if char in MASKS:
            if position >= len(original):
                return index
            position += 1
            continue
        found = original.find(char, position)
        if found < 0:
            return index
        position = found + 1
    return None


def is_redaction_of(original: str, redacted: str) -> bool:
    """Whether ``redacted`` only deletes or masks characters of ``original`` (see module doc)."""
    return first_addition(original, redacted) is None


def needs_review(label_codes: Sequence[str] | None, text: str | None) -> bool:
    """E1: a bad review is reviewed when it carries labels or some text."""
    return bool(label_codes) or bool(text and text.strip())


# ---- opening reviews ----------------------------------------------------------------------


def _chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    for start in range(0, len(ids), _CHUNK):
        yield list(ids[start : start + _CHUNK])


def open_reviews(
    *,
    session: Session,
    evaluation_ids: Sequence[int],
    now: datetime,
    calendar: WorkCalendar | None = None,
) -> int:
    """E1: open a review, with its deadline, for each given bad evaluation with labels or text
    that has none yet; returns how many were opened. Set-wise: a handful of queries for up to
    thousands of evaluations, inside the caller's transaction (``calendar``: one the caller
    has loaded in it already)."""
    ids = sorted(set(evaluation_ids))
    candidates: list[Any] = []
    for chunk in _chunks(ids):
        candidates.extend(
            row
            for row in session.execute(
                select(
                    Evaluation.id,
                    Evaluation.label_codes,
                    Evaluation.text,
                    Evaluation.profile_name,
                    Evaluation.case_id,
                    Evaluation.bundle_id,
                    Evaluation.rated_at,
                ).where(
                    Evaluation.id.in_(chunk),
                    Evaluation.is_bad.is_(True),
                    Evaluation.revoked_at.is_(None),
                    ~select(TextReview.id)
                    .where(TextReview.evaluation_id == Evaluation.id)
                    .exists(),
                )
            )
            if needs_review(row.label_codes, row.text)
        )
    if not candidates:
        return 0
    case_regions, bundle_regions = _regions(session, candidates)
    return open_for(
        session,
        candidates,
        case_regions,
        bundle_regions,
        now=now,
        calendar=calendar or WorkCalendar.load(session),
    )


def open_for(
    session: Session,
    candidates: Sequence[Any],
    case_regions: dict[int, str],
    bundle_regions: dict[int, str],
    *,
    now: datetime,
    calendar: WorkCalendar,
) -> int:
    """Open the reviews of ``candidates`` (bad evaluations that need one, with ``id``,
    ``case_id``, ``bundle_id``, ``profile_name`` and ``rated_at``) in the region of their case
    or bundle; the work-order intake hands over what it has just stored and read."""
    if not candidates:
        return 0
    profiles: dict[str, Profile] = {}
    rows: list[dict[str, Any]] = []
    dues: dict[int, DueTime] = {}
    for c in candidates:
        region = (
            case_regions.get(c.case_id)
            if c.case_id is not None
            else bundle_regions.get(c.bundle_id)
            if c.bundle_id is not None
            else None
        )
        if region is None:  # a bundle without any case: no office to review it
            continue
        profile = profiles.get(c.profile_name)
        if profile is None:
            profile = profiles[c.profile_name] = policy.get_profile(name=c.profile_name)
        due = calendar.add(c.rated_at, profile.text_review.window)
        dues[c.id] = due
        rows.append(
            {
                "evaluation_id": c.id,
                "region_code": region,
                "status": ReviewStatus.pending.value,
                "due_at": due.at,
                "created_at": now,
                "published_labels": [],
            }
        )
    conn = session.connection()
    # A concurrent transaction that opened the same review first wins (unique evaluation_id).
    inserted = insert_rows(
        conn, _REVIEWS, rows, skip_conflicts_on="evaluation_id", returning=("evaluation_id", "id")
    )
    _schedule(session, {row.id: dues[row.evaluation_id] for row in inserted})
    return len(inserted)


def _regions(session: Session, candidates: Sequence[Any]) -> tuple[dict[int, str], dict[int, str]]:
    """Region of each case, and of each bundle (its first case by id)."""
    case_ids = sorted({c.case_id for c in candidates if c.case_id is not None})
    bundle_ids = sorted({c.bundle_id for c in candidates if c.case_id is None and c.bundle_id})
    by_case: dict[int, str] = {}
    for chunk in _chunks(case_ids):
        by_case.update(
            (cid, code)
            for cid, code in session.execute(
                select(Case.id, Case.region_code).where(Case.id.in_(chunk))
            )
        )
    by_bundle: dict[int, str] = {}
    for chunk in _chunks(bundle_ids):
        first = select(func.min(Case.id)).where(Case.bundle_id.in_(chunk)).group_by(Case.bundle_id)
        for bundle_id, code in session.execute(
            select(Case.bundle_id, Case.region_code).where(Case.id.in_(first))
        ):
            if bundle_id is not None:
                by_bundle[bundle_id] = code
    return by_case, by_bundle


def _schedule(session: Session, dues: dict[int, DueTime]) -> None:
    deadlines.schedule_many(
        session=session,
        kind=TEXT_REVIEW_KIND,
        dues={subject: (due.at, due.estimated) for subject, due in dues.items()},
    )


# ---- deciding -----------------------------------------------------------------------------


def _locked(session: Session, review_id: int) -> TextReview | None:
    """The review, row-locked on PostgreSQL (SQLite's BEGIN IMMEDIATE already serialises
    writers), re-read even if the session holds a copy: two decisions cannot both pass."""
    return session.scalar(
        select(TextReview)
        .where(TextReview.id == review_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def expire_review(session: Session, review_id: int, now: datetime) -> None:
    """Sweeper task (E1): a pending review past due becomes ``approved_by_silence`` when the
    evaluation's profile says silence approves, else ``expired`` (nothing published)."""
    review = _locked(session, review_id)
    if review is None or review.status != ReviewStatus.pending.value or review.due_at > now:
        return
    evaluation = session.get(Evaluation, review.evaluation_id)
    if evaluation is None:
        return
    profile = policy.get_profile(name=evaluation.profile_name)
    if profile.text_review.silence_means_approved:
        review.status = ReviewStatus.approved_by_silence.value
        review.published_text = evaluation.text
        review.published_labels = list(evaluation.label_codes)
    else:
        review.status = ReviewStatus.expired.value
        review.published_text = None
        review.published_labels = []
    # Dated when silence decided, however late the sweep runs.
    review.decided_at = review.due_at
    review.decided_by = SYSTEM_ACTOR
    session.flush()
    record(
        session,
        now=now,
        actor=SYSTEM_ACTOR,
        action=ACTION_EXPIRED,
        target=f"text_review:{review.id}",
        details={
            "evaluation_id": review.evaluation_id,
            "status": review.status,
            "profile": profile.name,
        },
    )


def _pending_in_scope(
    session: Session, review_id: int, scope: Scope
) -> tuple[TextReview, Evaluation]:
    review = _locked(session, review_id)
    if review is None or not scope.contains_region(session, review.region_code):
        raise _not_found(review_id)
    if review.status != ReviewStatus.pending.value:
        raise Conflict(
            "text_review_decided",
            "该差评文字已审核，不能重复审核",
            details={"id": review_id, "status": review.status},
        )
    evaluation = session.get(Evaluation, review.evaluation_id)
    if evaluation is None:  # impossible with the foreign key; refuse rather than crash
        raise _not_found(review_id)
    return review, evaluation


def approve(
    *,
    session: Session,
    review_id: int,
    actor: str,
    scope: Scope,
    now: datetime,
    ip: str = "",
    note: str | None = None,
) -> TextReviewOut:
    """E1: publish the text and labels as written. ``text_review_decided`` (409) when already
    decided; a review outside ``scope`` is answered as absent."""
    review, evaluation = _pending_in_scope(session, review_id, scope)
    _decide(
        session,
        review,
        evaluation,
        status=ReviewStatus.approved,
        text=evaluation.text,
        labels=list(evaluation.label_codes),
        actor=actor,
        now=now,
        ip=ip,
        note=note,
    )
    return get_review(session=session, review_id=review_id, scope=scope, now=now)


def redact(
    *,
    session: Session,
    review_id: int,
    actor: str,
    scope: Scope,
    now: datetime,
    text: str | None,
    label_codes: Sequence[str],
    ip: str = "",
    note: str | None = None,
) -> TextReviewOut:
    """E1: publish ``text`` (a redaction of the original: characters deleted or masked with
    ``*``/``＊`` only) and ``label_codes`` (a subset of the original labels). When nothing was
    removed, the review is simply ``approved``."""
    review, evaluation = _pending_in_scope(session, review_id, scope)
    original_labels = list(evaluation.label_codes)
    if len(set(label_codes)) != len(label_codes):
        raise InvalidInput(
            "text_review_label_duplicate",
            "保留的评价内容不能重复",
            details={"labels": list(label_codes)},
        )
    added = [code for code in label_codes if code not in original_labels]
    if added:
        raise InvalidInput(
            "text_review_label_not_original",
            "只能保留评价人原先选择的评价内容，不能增加",
            details={"labels": added},
        )
    original = evaluation.text or ""
    given = text or ""
    at = first_addition(original, given)
    if at is not None:
        raise InvalidInput(
            "text_review_not_redaction",
            "删改后的文字只能删除原文中的字，或用“*”遮盖，不能增加或改写文字",
            details={"position": at, "max_length": len(original)},
        )
    published = given.strip() or None
    kept = [code for code in original_labels if code in label_codes]
    unchanged = published == (evaluation.text or None) and kept == original_labels
    _decide(
        session,
        review,
        evaluation,
        status=ReviewStatus.approved if unchanged else ReviewStatus.redacted,
        text=published,
        labels=kept,
        actor=actor,
        now=now,
        ip=ip,
        note=note,
    )
    return get_review(session=session, review_id=review_id, scope=scope, now=now)


def _decide(
    session: Session,
    review: TextReview,
    evaluation: Evaluation,
    *,
    status: ReviewStatus,
    text: str | None,
    labels: list[str],
    actor: str,
    now: datetime,
    ip: str,
    note: str | None,
) -> None:
    review.status = status.value
    review.published_text = text
    review.published_labels = labels
    review.decided_at = now
    review.decided_by = actor
    review.note = note or None
    session.flush()
    # Counts only: the text may hold the personal data being redacted (the log is forever).
    original = evaluation.text or ""
    record(
        session,
        now=now,
        actor=actor,
        action=ACTION_APPROVED if status is ReviewStatus.approved else ACTION_REDACTED,
        target=f"text_review:{review.id}",
        details={
            "evaluation_id": evaluation.id,
            "status": status.value,
            "labels_kept": labels,
            "labels_removed": [c for c in evaluation.label_codes if c not in labels],
            "text_length": len(original),
            "published_length": len(text or ""),
        },
        ip=ip,
    )


# ---- reading ------------------------------------------------------------------------------


def _not_found(review_id: int) -> NotFound:
    return NotFound("text_review_not_found", "未找到该差评文字审核", details={"id": review_id})


def scope_clause(scope: Scope) -> ColumnElement[bool]:
    """Reviews belong to the supervision office of their region: a scope sees those of its
    region subtrees (organisation and staff scopes review nothing)."""
    if scope.everything:
        return true()
    if scope.region_paths:
        return TextReview.region_code.in_(scope.region_codes())
    return false()


@dataclass(frozen=True)
class ReviewFilter:
    status: ReviewStatus | None = None
    # A region code: the region and everything below it.
    region_code: str | None = None
    due_before: datetime | None = None


def _filtered(session: Session, filters: ReviewFilter, scope: Scope) -> list[ColumnElement[bool]]:
    conds = [scope_clause(scope)]
    if filters.status is not None:
        conds.append(TextReview.status == filters.status.value)
    if filters.region_code:
        codes = catalog.subtree_codes(session=session, code=filters.region_code)
        conds.append(TextReview.region_code.in_(codes))
    if filters.due_before is not None:
        conds.append(TextReview.due_at < filters.due_before)
    return conds


_ROW = (
    select(
        TextReview,
        Evaluation.level,
        Evaluation.text,
        Evaluation.label_codes,
        Evaluation.profile_name,
        Evaluation.rated_at,
        Region.name.label("region_name"),
    )
    .join(Evaluation, Evaluation.id == TextReview.evaluation_id)
    .join(Region, Region.code == TextReview.region_code)
)


def list_reviews(
    *,
    session: Session,
    scope: Scope,
    filters: ReviewFilter,
    now: datetime,
    page: int = 1,
    page_size: int = 50,
    pending_first: bool = False,
) -> tuple[int, list[TextReviewSummary]]:
    """Reviews inside ``scope`` by due date (pending ones first if asked), one page at a time."""
    if page < 1 or not 1 <= page_size <= PAGE_SIZE_MAX:
        raise InvalidInput(
            "page_invalid",
            f"页码应从 1 开始，每页条数应在 1 到 {PAGE_SIZE_MAX} 之间",
            details={"page": page, "page_size": page_size},
        )
    conds = _filtered(session, filters, scope)
    total = int(session.scalar(select(func.count(TextReview.id)).where(*conds)) or 0)
    order: list[Any] = []
    if pending_first:
        order.append(case((TextReview.status == ReviewStatus.pending.value, 0), else_=1))
    order += [TextReview.due_at, TextReview.id]
    rows = session.execute(
        _ROW.where(*conds).order_by(*order).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return total, [_summary(row, now) for row in rows]


def get_review(*, session: Session, review_id: int, scope: Scope, now: datetime) -> TextReviewOut:
    """One review in full, with the suggested redaction; absent if outside ``scope``."""
    row = session.execute(_ROW.where(TextReview.id == review_id, scope_clause(scope))).first()
    if row is None:
        raise _not_found(review_id)
    summary = _summary(row, now)
    review: TextReview = row[0]
    profile = _profile(row.profile_name)
    text: str | None = row.text
    return TextReviewOut(
        **summary.model_dump(),
        labels=_labels(profile, row.label_codes),
        original_text=text,
        suggested_text=suggest_redaction(text) if text else None,
        published_text=review.published_text,
        published_labels=_labels(profile, review.published_labels),
        note=review.note,
    )


def _profile(name: str) -> Profile | None:
    # A profile removed since the rating: show codes and numbers rather than refuse to read.
    try:
        return policy.get_profile(name=name)
    except DomainError:
        return None


def _labels(profile: Profile | None, codes: Sequence[str]) -> list[LabelOut]:
    names = (
        {code: label.name for code, label in profile.labels.by_code().items()} if profile else {}
    )
    return [LabelOut(code=code, name=names.get(code, code)) for code in codes]


def _summary(row: Any, now: datetime) -> TextReviewSummary:
    review: TextReview = row[0]
    profile = _profile(row.profile_name)
    level = int(row.level)
    spec = profile.levels.get(level) if profile else None
    text: str | None = row.text
    excerpt = None
    if text:
        masked = suggest_redaction(text)
        excerpt = masked if len(masked) <= EXCERPT_LENGTH else masked[:EXCERPT_LENGTH] + "…"
    return TextReviewSummary(
        id=review.id,
        evaluation_id=review.evaluation_id,
        region_code=review.region_code,
        region_name=row.region_name,
        level=level,
        level_name=spec.name if spec else str(level),
        status=ReviewStatus(review.status),
        status_name=STATUS_NAMES.get(review.status, review.status),
        excerpt=excerpt,
        label_count=len(row.label_codes or []),
        rated_at=row.rated_at,
        due_at=review.due_at,
        overdue=review.status == ReviewStatus.pending.value and review.due_at <= now,
        decided_at=review.decided_at,
        decided_by=review.decided_by,
    )


def published_text_for(
    *, session: Session, evaluation_ids: Sequence[int]
) -> dict[int, PublishedText]:
    """What may be published of the given evaluations' labels and text (E1, G1), by evaluation
    id: only reviews approved, redacted or approved by silence. Evaluations without a review
    (nothing to review), still pending, expired or revoked by an upheld appeal are absent."""
    found: dict[int, PublishedText] = {}
    for chunk in _chunks(sorted(set(evaluation_ids))):
        rows = session.execute(
            select(
                TextReview.evaluation_id,
                TextReview.status,
                TextReview.published_text,
                TextReview.published_labels,
            )
            .join(Evaluation, Evaluation.id == TextReview.evaluation_id)
            .where(
                TextReview.evaluation_id.in_(chunk),
                TextReview.status.in_(PUBLISHED),
                Evaluation.revoked_at.is_(None),
            )
        )
        for evaluation_id, status, text, labels in rows:
            found[evaluation_id] = PublishedText(
                evaluation_id=evaluation_id,
                status=ReviewStatus(status),
                text=text,
                label_codes=list(labels or []),
            )
    return found
