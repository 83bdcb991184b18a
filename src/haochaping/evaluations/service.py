"""Evaluations: submission (single, bulk, idempotent), defaults, follow-ups, listing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haochaping.calendar.service import add_duration
from haochaping.cases import service as cases
from haochaping.cases.models import Bundle, Case, Occasion, OccasionStatus
from haochaping.catalog import service as catalog
from haochaping.clock import local_date
from haochaping.errors import Conflict, DomainError, InvalidInput, NotFound
from haochaping.evaluations import rules
from haochaping.evaluations.models import Credit, Evaluation, FollowUp, IdempotencyRecord
from haochaping.evaluations.schemas import (
    BulkItemResult,
    EvaluationIn,
    EvaluationOut,
    FollowUpIn,
    FollowUpOut,
)
from haochaping.policy import service as policy
from haochaping.policy.schemas import Profile


def submit(*, session: Session, data: EvaluationIn, now: datetime) -> Evaluation:
    """Store the rater's evaluation of one occasion (B4, B6, C1, C8)."""
    return _submit(session, data, now)[0]


def submit_described(*, session: Session, data: EvaluationIn, now: datetime) -> EvaluationOut:
    """Like ``submit``, answering with the API view built from the rows already at hand."""
    evaluation, ctx = _submit(session, data, now)
    bundle_no = None
    if ctx.case is None:
        bundle_no = session.get_one(Bundle, ctx.occasion.bundle_id).bundle_no
    case_no = ctx.case.case_no if ctx.case is not None else None
    return _out(evaluation, ctx.occasion.stage, case_no, bundle_no, None)


def _submit(
    session: Session, data: EvaluationIn, now: datetime
) -> tuple[Evaluation, cases.OccasionContext]:
    occasion_id = data.occasion_id
    if occasion_id is None:
        assert data.case_no is not None
        occasion_id = cases.find_occasion(
            session=session, case_no=data.case_no, stage=data.stage
        ).id
    ctx = cases.occasion_context(session=session, occasion_id=occasion_id)
    profile = policy.get_profile(name=ctx.occasion.profile_name)
    rules.check_open(ctx.occasion, profile, now)
    rules.check_content(profile, data.level, data.label_codes, data.text, follow_up=False)
    supplementary = ctx.occasion.on_site and local_date(now) > local_date(ctx.occasion.opens_at)
    evaluation = _store(
        session,
        ctx,
        profile,
        level=data.level,
        label_codes=data.label_codes,
        text=data.text,
        channel=int(data.channel),
        is_default=False,
        supplementary=supplementary,
        rated_at=now,
    )
    return evaluation, ctx


def apply_default(session: Session, occasion_id: int, now: datetime) -> None:
    """Sweeper task (C7): silence until the occasion closes becomes the profile's default
    level, marked ``is_default``; a profile without a default closes the occasion unrated.
    The default is dated when the occasion closed, however late the sweep runs."""
    ctx = cases.occasion_context(session=session, occasion_id=occasion_id)
    if ctx.occasion.status != OccasionStatus.open.value:
        return
    profile = policy.get_profile(name=ctx.occasion.profile_name)
    if profile.default_rating is None:
        cases.mark_occasion(session=session, occasion=ctx.occasion, status=OccasionStatus.expired)
        return
    rated_at = ctx.occasion.default_due or ctx.occasion.rate_until
    _store(
        session,
        ctx,
        profile,
        level=profile.default_rating.level,
        label_codes=[],
        text=None,
        channel=None,
        is_default=True,
        supplementary=False,
        rated_at=rated_at,
    )


def _store(
    session: Session,
    ctx: cases.OccasionContext,
    profile: Profile,
    *,
    level: int,
    label_codes: list[str],
    text: str | None,
    channel: int | None,
    is_default: bool,
    supplementary: bool,
    rated_at: datetime,
) -> Evaluation:
    occasion = ctx.occasion
    evaluation = Evaluation(
        occasion_id=occasion.id,
        case_id=occasion.case_id,
        bundle_id=occasion.bundle_id,
        level=level,
        score=profile.score_of(level),
        is_bad=profile.is_bad(level),
        label_codes=list(label_codes),
        text=text or None,
        channel=channel,
        is_default=is_default,
        supplementary=supplementary,
        profile_name=profile.name,
        profile_version=profile.version,
        labels_version=profile.labels.version,
        rated_at=rated_at,
    )
    try:
        with session.begin_nested():
            session.add(evaluation)
            session.flush()
    except IntegrityError as exc:
        # C1: a concurrent submission for the same occasion won.
        raise Conflict(
            "already_evaluated",
            "该办件此环节已评价，每个评价场次只能评价一次",
            details={"occasion_id": occasion.id},
        ) from exc
    status = OccasionStatus.defaulted if is_default else OccasionStatus.rated
    cases.mark_occasion(session=session, occasion=occasion, status=status)
    if occasion.credited:
        session.add_all(_credits(session, ctx, profile, evaluation))
    session.flush()
    return evaluation


def _credits(
    session: Session, ctx: cases.OccasionContext, profile: Profile, evaluation: Evaluation
) -> list[Credit]:
    """B2/B5: staff-rated occasions credit the staff member and the units above; item-only
    ones credit units only where the profile says so. C2: a bundle's overall score is credited
    once to every organisation involved. C4: a batch counts once per transaction."""
    occasion = ctx.occasion
    members = [ctx.case] if ctx.case is not None else list(ctx.members)
    by_org: dict[int, Case] = {}
    for member in members:
        if member is not None:
            by_org.setdefault(member.org_id, member)
    counts = occasion.rates_staff or ctx.case is None or profile.scoring.item_only_counts_for_units
    credits = []
    for org_id, member in by_org.items():
        org = catalog.get_org_by_id(session=session, org_id=org_id)
        weight = member.batch_size if profile.scoring.batch_counts_each_transaction else 1
        credits.append(
            Credit(
                evaluation_id=evaluation.id,
                staff_id=occasion.staff_id if occasion.rates_staff else None,
                org_id=org_id,
                line_id=org.line_id,
                region_code=member.region_code,
                item_id=member.item_id,
                channel=evaluation.channel,
                weight=weight,
                score=evaluation.score,
                level=evaluation.level,
                is_default=evaluation.is_default,
                counts_for_units=counts,
                shared=len(by_org) > 1,
                rated_at=evaluation.rated_at,
            )
        )
    return credits


def follow_up(*, session: Session, evaluation_id: int, data: FollowUpIn, now: datetime) -> FollowUp:
    """C6: one follow-up per evaluation, within the profile's follow-up window."""
    evaluation = session.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise NotFound("evaluation_not_found", "未找到该评价", details={"id": evaluation_id})
    if evaluation.is_default:
        raise InvalidInput("follow_up_not_allowed", "系统默认评价不能追加评价")
    profile = policy.get_profile(name=evaluation.profile_name)
    if profile.follow_up_window is None:
        raise InvalidInput("follow_up_disabled", "本地区未开通追加评价")
    due = add_duration(
        session=session, start=evaluation.rated_at, duration=profile.follow_up_window
    )
    if now > due.at:
        raise InvalidInput(
            "follow_up_window_closed",
            f"追加评价须在评价后{profile.follow_up_window.describe()}内进行，现已超过期限",
            details={"until": due.at.isoformat()},
        )
    rules.check_content(profile, evaluation.level, data.label_codes, data.text, follow_up=True)
    row = FollowUp(
        evaluation_id=evaluation.id,
        text=data.text or None,
        label_codes=list(data.label_codes),
        channel=int(data.channel),
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise Conflict(
            "follow_up_exists", "该评价已追加过一次，不能再次追加", details={"id": evaluation_id}
        ) from exc
    return row


def bulk_submit(
    *, session: Session, items: list[EvaluationIn], now: datetime
) -> list[BulkItemResult]:
    """Each item by the same rules as a single submission; one item's refusal leaves the
    others standing."""
    results = []
    for index, item in enumerate(items):
        try:
            with session.begin_nested():
                evaluation = submit(session=session, data=item, now=now)
        except DomainError as exc:
            results.append(
                BulkItemResult(
                    index=index,
                    accepted=False,
                    code=exc.code,
                    message=exc.message,
                    details=exc.details,
                )
            )
            continue
        results.append(BulkItemResult(index=index, accepted=True, evaluation_id=evaluation.id))
    return results


# --- idempotency -------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: dict[str, Any]


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def replay(*, session: Session, key: str, payload_hash: str) -> StoredAnswer | None:
    """The first answer to this key, or None. A key reused for another request is refused."""
    record = session.get(IdempotencyRecord, key)
    if record is None:
        return None
    if record.request_hash != payload_hash:
        raise Conflict(
            "idempotency_key_reused", "该幂等键已用于另一个不同的请求", details={"key": key}
        )
    return StoredAnswer(record.status_code, record.response)


def remember(
    *, session: Session, key: str, payload_hash: str, answer: StoredAnswer, now: datetime
) -> None:
    """Store the answer with the work; a concurrent twin makes this flush fail."""
    session.add(
        IdempotencyRecord(
            key=key,
            request_hash=payload_hash,
            status_code=answer.status_code,
            response=answer.body,
            created_at=now,
        )
    )
    session.flush()


def run_idempotent(
    *,
    session: Session,
    key: str,
    payload: Any,
    now: datetime,
    work: Callable[[], StoredAnswer],
) -> StoredAnswer:
    """Run ``work`` once per key: a retry returns the first answer."""
    digest = request_hash(payload)
    stored = replay(session=session, key=key, payload_hash=digest)
    if stored is not None:
        return stored
    answer = work()
    remember(session=session, key=key, payload_hash=digest, answer=answer, now=now)
    return answer


# --- reading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EvaluationFilter:
    case_no: str | None = None
    org_code: str | None = None
    region_code: str | None = None
    staff_code: str | None = None
    level: int | None = None
    channel: int | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    is_default: bool | None = None
    is_bad: bool | None = None


def list_evaluations(
    *, session: Session, filters: EvaluationFilter, page: int, page_size: int
) -> tuple[int, list[EvaluationOut]]:
    """Evaluations newest first, filtered, one page at a time."""
    query = select(Evaluation)
    if filters.case_no:
        case = cases.get_case(session=session, case_no=filters.case_no)
        query = query.join(Occasion, Occasion.id == Evaluation.occasion_id).where(
            (Evaluation.case_id == case.id)
            | ((Occasion.bundle_id == case.bundle_id) & (Occasion.bundle_id.is_not(None)))
        )
    credit_conds = []
    if filters.org_code:
        credit_conds.append(
            Credit.org_id == catalog.get_org(session=session, code=filters.org_code).id
        )
    if filters.staff_code:
        credit_conds.append(
            Credit.staff_id == catalog.get_staff(session=session, code=filters.staff_code).id
        )
    if filters.region_code:
        codes = catalog.subtree_codes(session=session, code=filters.region_code)
        credit_conds.append(Credit.region_code.in_(codes))
    if credit_conds:
        query = query.where(exists().where(Credit.evaluation_id == Evaluation.id, *credit_conds))
    for column, value in (
        (Evaluation.level, filters.level),
        (Evaluation.channel, filters.channel),
        (Evaluation.is_default, filters.is_default),
        (Evaluation.is_bad, filters.is_bad),
    ):
        if value is not None:
            query = query.where(column == value)
    if filters.date_from is not None:
        query = query.where(Evaluation.rated_at >= filters.date_from)
    if filters.date_to is not None:
        query = query.where(Evaluation.rated_at < filters.date_to)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.order_by(Evaluation.rated_at.desc(), Evaluation.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return total, describe(session=session, evaluations=list(rows))


def describe(*, session: Session, evaluations: list[Evaluation]) -> list[EvaluationOut]:
    """API view of evaluations, with stage, case or bundle number and follow-up."""
    if not evaluations:
        return []
    stages, case_nos, bundle_nos, follow_ups = _related(session, evaluations)
    return [
        _out(
            e,
            stages[e.occasion_id],
            case_nos.get(e.case_id) if e.case_id else None,
            bundle_nos.get(e.bundle_id) if e.bundle_id else None,
            follow_ups.get(e.id),
        )
        for e in evaluations
    ]


def _out(
    e: Evaluation, stage: str, case_no: str | None, bundle_no: str | None, fu: FollowUp | None
) -> EvaluationOut:
    profile = policy.get_profile(name=e.profile_name)
    return EvaluationOut(
        id=e.id,
        occasion_id=e.occasion_id,
        case_no=case_no,
        bundle_no=bundle_no,
        stage=stage,
        level=e.level,
        level_name=profile.levels[e.level].name,
        score=e.score,
        is_bad=e.is_bad,
        label_codes=e.label_codes,
        text=e.text,
        channel=e.channel,
        is_default=e.is_default,
        supplementary=e.supplementary,
        profile_name=e.profile_name,
        profile_version=e.profile_version,
        rated_at=e.rated_at,
        follow_up=FollowUpOut(
            text=fu.text, label_codes=fu.label_codes, channel=fu.channel, created_at=fu.created_at
        )
        if fu
        else None,
    )


def _related(
    session: Session, evaluations: list[Evaluation]
) -> tuple[dict[int, str], dict[int, str], dict[int, str], dict[int, FollowUp]]:
    ids = [e.id for e in evaluations]
    occ_ids = [e.occasion_id for e in evaluations]
    stages = dict(
        session.execute(select(Occasion.id, Occasion.stage).where(Occasion.id.in_(occ_ids))).all()
    )
    case_ids = {e.case_id for e in evaluations if e.case_id is not None}
    case_nos = (
        dict(session.execute(select(Case.id, Case.case_no).where(Case.id.in_(case_ids))).all())
        if case_ids
        else {}
    )
    bundle_ids = {e.bundle_id for e in evaluations if e.bundle_id is not None}
    bundle_nos = (
        dict(
            session.execute(
                select(Bundle.id, Bundle.bundle_no).where(Bundle.id.in_(bundle_ids))
            ).all()
        )
        if bundle_ids
        else {}
    )
    follow_ups = {
        f.evaluation_id: f
        for f in session.scalars(select(FollowUp).where(FollowUp.evaluation_id.in_(ids)))
    }
    return stages, case_nos, bundle_nos, follow_ups


def get_evaluation(*, session: Session, evaluation_id: int) -> EvaluationOut:
    evaluation = session.get(Evaluation, evaluation_id)
    if evaluation is None:
        raise NotFound("evaluation_not_found", "未找到该评价", details={"id": evaluation_id})
    return describe(session=session, evaluations=[evaluation])[0]


def evaluations_of_case(*, session: Session, case: Case) -> list[EvaluationOut]:
    own, shared = cases.case_occasions(session=session, case=case)
    occ_ids = [o.id for o in own + shared]
    rows = session.scalars(
        select(Evaluation).where(Evaluation.occasion_id.in_(occ_ids)).order_by(Evaluation.id)
    ).all()
    return describe(session=session, evaluations=list(rows))
