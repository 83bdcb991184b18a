"""Evaluations: submission (single, bulk, idempotent), defaults, follow-ups, listing."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.calendar.service import add_duration
from haochaping.cases import service as cases
from haochaping.cases.models import Bundle, Case, Occasion, OccasionStatus
from haochaping.catalog import service as catalog
from haochaping.clock import local_date
from haochaping.errors import Conflict, DomainError, InvalidInput, NotFound
from haochaping.evaluations import rules, writer
from haochaping.evaluations.arrived import BadReview
from haochaping.evaluations.models import Credit, Evaluation, FollowUp
from haochaping.evaluations.schemas import (
    BulkItemResult,
    EvaluationIn,
    EvaluationOut,
    FollowUpIn,
    FollowUpOut,
)
from haochaping.policy import service as policy
from haochaping.policy.schemas import Profile
from haochaping.statistics import queue as stat_queue
from haochaping.workorders import intake as workorders


@dataclass(frozen=True)
class Draft:
    """An evaluation checked and ready to be written."""

    target: cases.RatingTarget
    profile: Profile
    level: int
    label_codes: list[str]
    text: str | None
    channel: int | None
    is_default: bool
    supplementary: bool
    rated_at: datetime


def submit(*, session: Session, data: EvaluationIn, now: datetime, scope: Scope) -> EvaluationOut:
    """Store the rater's evaluation of one occasion (B4, B6, C1, C8). A business system
    submits only for occasions of the units it serves (``scope``)."""
    occasion_id = _occasion_id(session, data, scope)
    targets = cases.rating_targets(session=session, occasion_ids=[occasion_id])
    _check_scope(session, scope, targets.get(occasion_id))
    draft = _check(targets, occasion_id, data, now)
    ((stored, row),) = _write(session, [draft])
    target = stored.target
    return _out(row, target.stage, target.case_no, target.bundle_no, None)


def _occasion_id(session: Session, data: EvaluationIn, scope: Scope) -> int:
    if data.occasion_id is not None:
        return data.occasion_id
    assert data.case_no is not None
    return cases.find_occasion(
        session=session, case_no=data.case_no, stage=data.stage, scope=scope
    ).id


def _check_scope(session: Session, scope: Scope, target: cases.RatingTarget | None) -> None:
    """An occasion outside the caller's scope is answered as if it did not exist."""
    if target is None or scope.everything:
        return
    units = [(s.org_id, s.region_code) for s in target.sources]
    if not scope.contains_units(session, units):
        raise _out_of_scope(target.occasion_id)


def _out_of_scope(occasion_id: int) -> NotFound:
    return NotFound("occasion_not_found", "未找到该评价场次", details={"occasion_id": occasion_id})


def _check(
    targets: dict[int, cases.RatingTarget], occasion_id: int, data: EvaluationIn, now: datetime
) -> Draft:
    target = targets.get(occasion_id)
    if target is None:
        raise NotFound(
            "occasion_not_found", "未找到该评价场次", details={"occasion_id": occasion_id}
        )
    profile = policy.get_profile(name=target.profile_name)
    rules.check_open(target, profile, now)
    rules.check_content(profile, data.level, data.label_codes, data.text, follow_up=False)
    return Draft(
        target=target,
        profile=profile,
        level=data.level,
        label_codes=list(data.label_codes),
        text=data.text or None,
        channel=int(data.channel),
        is_default=False,
        supplementary=target.on_site and local_date(now) > local_date(target.opens_at),
        rated_at=now,
    )


def apply_default(session: Session, occasion_id: int, now: datetime) -> None:
    """Sweeper task (C7): silence until the occasion closes becomes the profile's default
    level, marked ``is_default``; a profile without a default closes the occasion unrated.
    The default is dated when the occasion closed, however late the sweep runs."""
    target = cases.rating_targets(session=session, occasion_ids=[occasion_id]).get(occasion_id)
    if target is None or target.status != OccasionStatus.open.value:
        return
    profile = policy.get_profile(name=target.profile_name)
    if profile.default_rating is None:
        cases.set_occasion_status(
            session=session, occasion_ids=[occasion_id], status=OccasionStatus.expired
        )
        stat_queue.occasions_expired(session, [occasion_id])
        return
    draft = Draft(
        target=target,
        profile=profile,
        level=profile.default_rating.level,
        label_codes=[],
        text=None,
        channel=None,
        is_default=True,
        supplementary=False,
        rated_at=target.default_due or target.rate_until,
    )
    with contextlib.suppress(Conflict):
        # The rater's own rating landed at the same moment: it stands, no default is due.
        _write(session, [draft])


def _write(session: Session, drafts: list[Draft]) -> list[tuple[Draft, dict[str, Any]]]:
    """Write checked drafts set-wise (``writer.write``: one statement on PostgreSQL): a
    concurrent or earlier rating of the same occasion makes it skip that draft, C1's unique
    constraint decides. Returns the stored drafts with their rows (``id`` included), in order;
    raises ``already_evaluated`` for a single draft that lost."""
    if not drafts:
        return []
    rows = [
        {
            "occasion_id": d.target.occasion_id,
            "case_id": d.target.case_id,
            "bundle_id": d.target.bundle_id,
            "level": d.level,
            "score": d.profile.score_of(d.level),
            "is_bad": d.profile.is_bad(d.level),
            "label_codes": d.label_codes,
            "text": d.text,
            "channel": d.channel,
            "is_default": d.is_default,
            "supplementary": d.supplementary,
            "profile_name": d.profile.name,
            "profile_version": d.profile.version,
            "labels_version": d.profile.labels.version,
            "rated_at": d.rated_at,
        }
        for d in drafts
    ]
    credits = [c for d, row in zip(drafts, rows, strict=True) for c in _credits(d, row)]
    ids = writer.write(session, rows, credits)
    if len(drafts) == 1 and not ids:
        raise _already_evaluated(drafts[0].target.occasion_id)
    stored = []
    for d, row in zip(drafts, rows, strict=True):
        evaluation_id = ids.get(d.target.occasion_id)
        if evaluation_id is not None:
            row["id"] = evaluation_id
            stored.append((d, row))
    # F4, RA 附件3: every bad review opens its work order (and E1 text review) right here.
    bad = [
        BadReview(
            id=ids[d.target.occasion_id],
            case_id=d.target.case_id,
            bundle_id=d.target.bundle_id,
            profile_name=d.profile.name,
            rated_at=d.rated_at,
            label_codes=d.label_codes,
            text=d.text,
        )
        for d, row in stored
        if row["is_bad"]
    ]
    if bad:
        workorders.bad_reviews_arrived(session, bad)
    return stored


def _already_evaluated(occasion_id: int) -> Conflict:
    return Conflict(
        "already_evaluated",
        "该办件此环节已评价，每个评价场次只能评价一次",
        details={"occasion_id": occasion_id},
    )


def _credits(draft: Draft, row: dict[str, Any]) -> list[dict[str, Any]]:
    """B2/B5: staff-rated occasions credit the staff member and the units above; item-only
    ones credit units only where the profile says so. C2: a bundle's overall score is credited
    once to every organisation involved. C4: a batch counts once per transaction."""
    target, scoring = draft.target, draft.profile.scoring
    if not target.credited:
        return []
    by_org: dict[int, cases.CreditSource] = {}
    for source in target.sources:
        by_org.setdefault(source.org_id, source)
    counts = target.rates_staff or target.case_id is None or scoring.item_only_counts_for_units
    return [
        {
            "occasion_id": target.occasion_id,
            "staff_id": target.staff_id if target.rates_staff else None,
            "org_id": org_id,
            "line_id": source.line_id,
            "region_code": source.region_code,
            "item_id": source.item_id,
            "channel": row["channel"],
            "weight": source.batch_size if scoring.batch_counts_each_transaction else 1,
            "score": row["score"],
            "level": row["level"],
            "is_default": row["is_default"],
            "counts_for_units": counts,
            "shared": len(by_org) > 1,
            "rated_at": row["rated_at"],
        }
        for org_id, source in by_org.items()
    ]


def follow_up(
    *, session: Session, evaluation_id: int, data: FollowUpIn, now: datetime, scope: Scope
) -> FollowUp:
    """C6: one follow-up per evaluation, within the profile's follow-up window."""
    evaluation = session.scalar(
        select(Evaluation).where(Evaluation.id == evaluation_id, scope.evaluation_clause())
    )
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
    *, session: Session, items: list[EvaluationIn], now: datetime, scope: Scope
) -> list[BulkItemResult]:
    """Each item by the same rules as a single submission, written set-wise; one item's
    refusal leaves the others standing."""
    results: list[BulkItemResult | None] = [None] * len(items)
    occasion_ids: dict[int, int] = {}
    for index, item in enumerate(items):
        try:
            occasion_ids[index] = _occasion_id(session, item, scope)
        except DomainError as exc:
            results[index] = _refused(index, exc)
    targets = cases.rating_targets(session=session, occasion_ids=set(occasion_ids.values()))
    # Scope membership of the whole batch at once (no query per item).
    found = list(targets.values())
    inside = dict(
        zip(
            (t.occasion_id for t in found),
            scope.units_inside(
                session, [[(s.org_id, s.region_code) for s in t.sources] for t in found]
            ),
            strict=True,
        )
    )
    drafts: list[tuple[int, Draft]] = []
    claimed: set[int] = set()
    for index, occasion_id in occasion_ids.items():
        try:
            if occasion_id in claimed:
                raise _already_evaluated(occasion_id)
            if not inside.get(occasion_id, True):
                raise _out_of_scope(occasion_id)
            drafts.append((index, _check(targets, occasion_id, items[index], now)))
            claimed.add(occasion_id)
        except DomainError as exc:
            results[index] = _refused(index, exc)
    stored = {d.target.occasion_id: row["id"] for d, row in _write(session, [d for _, d in drafts])}
    for index, draft in drafts:
        evaluation_id = stored.get(draft.target.occasion_id)
        results[index] = (
            BulkItemResult(index=index, accepted=True, evaluation_id=evaluation_id)
            if evaluation_id is not None
            else _refused(index, _already_evaluated(draft.target.occasion_id))
        )
    return [r for r in results if r is not None]


def _refused(index: int, exc: DomainError) -> BulkItemResult:
    return BulkItemResult(
        index=index, accepted=False, code=exc.code, message=exc.message, details=exc.details
    )


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
    *, session: Session, filters: EvaluationFilter, page: int, page_size: int, scope: Scope
) -> tuple[int, list[EvaluationOut]]:
    """Evaluations newest first, filtered, one page at a time, never outside ``scope``."""
    query = filtered_query(session=session, filters=filters, scope=scope)
    total = int(session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    rows = session.scalars(
        query.order_by(Evaluation.rated_at.desc(), Evaluation.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    return total, describe(session=session, evaluations=list(rows))


def filtered_query(
    *, session: Session, filters: EvaluationFilter, scope: Scope
) -> Select[Evaluation]:
    """The evaluations matching ``filters`` inside ``scope`` (unordered)."""
    query = select(Evaluation).where(scope.evaluation_clause())
    if filters.case_no:
        case = cases.get_case(session=session, case_no=filters.case_no, scope=scope)
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
    return query


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
    e: Evaluation | dict[str, Any],
    stage: str,
    case_no: str | None,
    bundle_no: str | None,
    fu: FollowUp | None,
) -> EvaluationOut:
    values = (
        e
        if isinstance(e, dict)
        else {c: getattr(e, c) for c in (*_OUT_COLUMNS, "revoked_at", "revoked_reason")}
    )
    profile = policy.get_profile(name=values["profile_name"])
    return EvaluationOut(
        **{c: values[c] for c in _OUT_COLUMNS},
        case_no=case_no,
        bundle_no=bundle_no,
        stage=stage,
        level_name=profile.levels[values["level"]].name,
        label_names=_label_names(profile, values["label_codes"]),
        revoked_at=values.get("revoked_at"),
        revoked_reason=values.get("revoked_reason"),
        follow_up=FollowUpOut(
            text=fu.text, label_codes=fu.label_codes, channel=fu.channel, created_at=fu.created_at
        )
        if fu
        else None,
    )


def _label_names(profile: Profile, codes: list[str]) -> list[str]:
    labels = profile.labels.by_code()
    return [labels[c].name if c in labels else c for c in codes]


_OUT_COLUMNS = (
    "id",
    "occasion_id",
    "level",
    "score",
    "is_bad",
    "label_codes",
    "text",
    "channel",
    "is_default",
    "supplementary",
    "profile_name",
    "profile_version",
    "labels_version",
    "rated_at",
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


def get_evaluation(*, session: Session, evaluation_id: int, scope: Scope) -> EvaluationOut:
    evaluation = session.scalar(
        select(Evaluation).where(Evaluation.id == evaluation_id, scope.evaluation_clause())
    )
    if evaluation is None:
        raise NotFound("evaluation_not_found", "未找到该评价", details={"id": evaluation_id})
    return describe(session=session, evaluations=[evaluation])[0]


def evaluations_of_occasions(
    *, session: Session, occasion_ids: list[int], scope: Scope
) -> list[EvaluationOut]:
    """The evaluations of the given occasions (a case's own and its bundle's) inside scope."""
    rows = session.scalars(
        select(Evaluation)
        .where(Evaluation.occasion_id.in_(occasion_ids), scope.evaluation_clause())
        .order_by(Evaluation.id)
    ).all()
    return describe(session=session, evaluations=list(rows))
