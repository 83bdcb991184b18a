"""Cases: idempotent upsert by case number, occasions derived from the case and its profile."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import ARRAY, Connection, Integer, Table, any_, bindparam, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from haochaping.access.scope import Scope
from haochaping.cases import occasions as occ
from haochaping.cases.models import Bundle, Case, Occasion, OccasionStatus, Stage
from haochaping.cases.schemas import CaseIn
from haochaping.catalog import service as catalog
from haochaping.clock import ensure_aware
from haochaping.deadlines import service as deadlines
from haochaping.errors import Conflict, DomainError, InvalidInput, NotFound
from haochaping.pii.cipher import blind_index
from haochaping.policy import service as policy
from haochaping.statistics import queue as stat_queue

# A business system's clock may run a little ahead of ours.
CLOCK_SKEW = timedelta(minutes=10)


class OutOfScope(DomainError):
    status_code = 403


def out_of_scope(what: str) -> OutOfScope:
    return OutOfScope("out_of_scope", f"{what}不在您的授权范围内")


def upsert_case(
    *, session: Session, data: CaseIn, now: datetime, scope: Scope
) -> tuple[Case, bool]:
    """Register or update a case by ``case_no`` and derive its occasions (C1-C4).

    A business system registers only cases of the organisations and regions it serves
    (``scope``), and cannot take over a case registered outside them (issue 3).
    Returns the case and whether it was created."""
    item = catalog.get_item(session=session, code=data.item_code)
    org = (
        catalog.get_org(session=session, code=data.org_code)
        if data.org_code
        else catalog.get_org_by_id(session=session, org_id=item.org_id)
    )
    region_code = data.region_code or org.region_code
    catalog.get_region(session=session, code=region_code)
    if not scope.contains_org(session, org.id, region_code):
        raise out_of_scope("该办件的办理机构")
    hall_id = catalog.get_hall(session=session, code=data.hall_code).id if data.hall_code else None
    window_id = None
    if data.window_code:
        window = catalog.get_window(session=session, code=data.window_code)
        if window.org_id != org.id:
            raise InvalidInput(
                "window_not_in_org",
                "该窗口不属于办件的办理机构",
                details={"window_code": data.window_code},
            )
        window_id, hall_id = window.id, hall_id or window.hall_id
    staff_id = None
    if data.staff_code:
        staff = catalog.get_staff(session=session, code=data.staff_code)
        if staff.org_id != org.id:
            raise InvalidInput(
                "staff_not_in_org",
                "工作人员不属于该办件的办理机构",
                details={"staff_code": data.staff_code},
            )
        staff_id = staff.id
    handling_allowed = item.handling.split(",")
    if data.handling.value not in handling_allowed:
        raise InvalidInput(
            "handling_not_offered",
            "该事项不支持此办理方式",
            details={"handling": data.handling.value, "offered": handling_allowed},
        )
    stamps = _checked_stamps(data, now)

    case = session.scalar(select(Case).where(Case.case_no == data.case_no))
    if case is not None and not scope.contains_case(session, case):
        raise out_of_scope("该办件")
    created = case is None
    if case is None:
        case = Case(
            case_no=data.case_no,
            profile_name=policy.profile_name_for_region(session=session, region_code=region_code),
            created_at=now,
        )
        session.add(case)
    elif case.bundle_id is not None and data.bundle_no is None:
        raise Conflict("bundle_cannot_be_removed", "办件已属于“一件事”，不能移出")
    case.item_id, case.org_id, case.region_code = item.id, org.id, region_code
    case.line_id = org.line_id
    case.hall_id, case.window_id, case.staff_id = hall_id, window_id, staff_id
    case.applicant_type = data.applicant.type.value
    case.applicant_name = data.applicant.name
    case.applicant_id_type = data.applicant.id_type
    case.applicant_id_no = data.applicant.id_no
    case.applicant_phone = data.applicant.phone
    case.applicant_phone_index = _index("phone", data.applicant.phone)
    case.applicant_id_index = _index("id", data.applicant.id_no)
    case.kind = data.kind.value if data.kind else item.kind
    case.handling = data.handling.value
    case.accepted_at, case.approved_at, case.delivered_at, case.completed_at = stamps
    case.batch_size = data.batch_size
    case.updated_at = now
    if data.bundle_no:
        case.bundle_id = _bundle(session, data, case.profile_name, now).id
    session.flush()
    if case.bundle_id is not None:
        _sync_bundle_occasions(session, case.bundle_id)
    else:
        _sync_occasions(session, case)
    return case, created


def _index(kind: str, value: str | None) -> str | None:
    return None if value is None else blind_index(kind, value)


def case_ids_by_phone(session: Session, phone: str) -> list[int]:
    """Every case of one phone (revisits, fraud checks), found by its blind index only: the
    clear phone is never compared in SQL (C9: the rater's information is confidential)."""
    return list(
        session.scalars(
            select(Case.id)
            .where(Case.applicant_phone_index == blind_index("phone", phone))
            .order_by(Case.id)
        )
    )


def case_ids_by_id_no(session: Session, id_no: str) -> list[int]:
    """Every case of one ID number, found by its blind index only (C9)."""
    return list(
        session.scalars(
            select(Case.id)
            .where(Case.applicant_id_index == blind_index("id", id_no))
            .order_by(Case.id)
        )
    )


def _checked_stamps(
    data: CaseIn, now: datetime
) -> tuple[datetime, datetime | None, datetime | None, datetime | None]:
    accepted = ensure_aware(data.accepted_at)
    rest = [
        ensure_aware(t) if t else None
        for t in (data.approved_at, data.delivered_at, data.completed_at)
    ]
    errors = []
    for name, value in zip(
        ("accepted_at", "approved_at", "delivered_at", "completed_at"),
        (accepted, *rest),
        strict=True,
    ):
        if value is not None and value > now + CLOCK_SKEW:
            errors.append({"field": name, "message": "时间不能晚于当前时间"})
        if value is not None and name != "accepted_at" and value < accepted:
            errors.append({"field": name, "message": "时间不能早于受理时间"})
    if errors:
        raise InvalidInput("case_times_invalid", "办件环节时间不合理", details=errors)
    return accepted, rest[0], rest[1], rest[2]


def _bundle(session: Session, data: CaseIn, profile_name: str, now: datetime) -> Bundle:
    assert data.bundle_no is not None
    bundle = session.scalar(select(Bundle).where(Bundle.bundle_no == data.bundle_no))
    if bundle is None:
        bundle = Bundle(
            bundle_no=data.bundle_no,
            name=data.bundle_name or "",
            profile_name=profile_name,
            created_at=now,
        )
        session.add(bundle)
        session.flush()
    elif data.bundle_name:
        bundle.name = data.bundle_name
    return bundle


def _sync_occasions(session: Session, case: Case) -> None:
    existing = {
        o.stage: o for o in session.scalars(select(Occasion).where(Occasion.case_id == case.id))
    }
    for plan in occ.plan_case(case):
        _apply_plan(
            session,
            existing.get(plan.stage.value),
            plan,
            case.profile_name,
            case_id=case.id,
            bundle_id=None,
            staff_id=case.staff_id if plan.rates_staff else None,
        )


def _sync_bundle_occasions(session: Session, bundle_id: int) -> None:
    bundle = session.get_one(Bundle, bundle_id)
    members = list(session.scalars(select(Case).where(Case.bundle_id == bundle_id)))
    existing = {
        o.stage: o for o in session.scalars(select(Occasion).where(Occasion.bundle_id == bundle_id))
    }
    for plan in occ.plan_bundle(members):
        _apply_plan(
            session,
            existing.get(plan.stage.value),
            plan,
            bundle.profile_name,
            case_id=None,
            bundle_id=bundle_id,
            staff_id=None,
        )


def _apply_plan(
    session: Session,
    current: Occasion | None,
    plan: occ.PlannedOccasion,
    profile_name: str,
    *,
    case_id: int | None,
    bundle_id: int | None,
    staff_id: int | None,
) -> None:
    if current is not None and (
        current.status != OccasionStatus.open.value or current.opens_at == plan.opens_at
    ):
        # Rated or closed occasions keep their history; unchanged ones need nothing.
        if current.status == OccasionStatus.open.value:
            current.staff_id, current.rates_staff = staff_id, plan.rates_staff
        return
    if current is None:
        current = Occasion(
            case_id=case_id,
            bundle_id=bundle_id,
            stage=plan.stage.value,
            profile_name=profile_name,
            status=OccasionStatus.open.value,
        )
        session.add(current)
    current.rates_staff, current.staff_id = plan.rates_staff, staff_id
    current.on_site, current.credited = plan.on_site, plan.credited
    current.opens_at = plan.opens_at
    _set_window(session, current)


def _set_window(session: Session, occasion: Occasion) -> None:
    """Compute the occasion's rating window (C7, C8) and store its deadline row."""
    with session.no_autoflush:  # a new occasion has no window yet; loading the calendar waits
        window = occ.rating_window(
            calendar=occ.work_calendar(session),
            profile=policy.get_profile(name=occasion.profile_name),
            opens_at=occasion.opens_at,
            on_site=occasion.on_site,
        )
    occasion.rate_until, occasion.default_due = window.rate_until, window.default_due
    occasion.window_estimated = window.estimated
    session.flush()
    deadlines.schedule(
        session=session,
        kind=occ.DEFAULT_KIND if window.default_due is not None else occ.CLOSE_KIND,
        subject_id=occasion.id,
        due_at=window.default_due or window.rate_until,
        estimated=window.estimated,
    )
    reminder = occ.reminder_due(
        calendar=occ.work_calendar(session),
        profile=policy.get_profile(name=occasion.profile_name),
        stage=occasion.stage,
        opens_at=occasion.opens_at,
        rate_until=window.rate_until,
    )
    if reminder is not None:
        # C5: stored with the occasion; the sweeper sends it only if still unrated then.
        deadlines.schedule(
            session=session, kind=occ.REMINDER_KIND, subject_id=occasion.id, due_at=reminder
        )


def recompute_estimated_windows(*, session: Session) -> int:
    """After a new year's calendar is imported (P2): open occasions whose window was computed
    on weekends only get it computed again. Returns how many were recomputed."""
    session.info.pop("work_calendar", None)
    estimated = session.scalars(
        select(Occasion).where(
            Occasion.status == OccasionStatus.open.value, Occasion.window_estimated.is_(True)
        )
    ).all()
    for occasion in estimated:
        _set_window(session, occasion)
    return len(estimated)


def get_case(*, session: Session, case_no: str, scope: Scope) -> Case:
    """The case, if it is inside ``scope``; outside it is as if it did not exist."""
    case = session.scalar(select(Case).where(Case.case_no == case_no, scope.case_clause()))
    if case is None:
        raise NotFound("case_not_found", "未找到该办件", details={"case_no": case_no})
    return case


def case_occasions(*, session: Session, case: Case) -> tuple[list[Occasion], list[Occasion]]:
    """The case's own occasions, and its bundle's when it belongs to one."""
    own = list(
        session.scalars(select(Occasion).where(Occasion.case_id == case.id).order_by(Occasion.id))
    )
    shared: list[Occasion] = []
    if case.bundle_id is not None:
        shared = list(
            session.scalars(
                select(Occasion).where(Occasion.bundle_id == case.bundle_id).order_by(Occasion.id)
            )
        )
    return own, shared


@dataclass(frozen=True)
class CreditSource:
    """A case an evaluation is credited to (B2): its units at handling time and batch size."""

    org_id: int
    line_id: int | None
    region_code: str
    item_id: int
    batch_size: int


@dataclass(frozen=True)
class RatingTarget:
    """What rating one occasion needs, read without the ORM's unit of work (the hot path)."""

    occasion_id: int
    stage: str
    status: str
    opens_at: datetime
    rate_until: datetime
    default_due: datetime | None
    on_site: bool
    credited: bool
    rates_staff: bool
    staff_id: int | None
    profile_name: str
    case_id: int | None
    bundle_id: int | None
    case_no: str | None
    bundle_no: str | None
    # The case itself, or every member of the bundle (C2).
    sources: tuple[CreditSource, ...]


_occ = cast(Table, Occasion.__table__).c
_case = cast(Table, Case.__table__).c
_TARGETS_BASE = select(
    _occ.id,
    _occ.stage,
    _occ.status,
    _occ.opens_at,
    _occ.rate_until,
    _occ.default_due,
    _occ.on_site,
    _occ.credited,
    _occ.rates_staff,
    _occ.staff_id,
    _occ.profile_name,
    _occ.case_id,
    _occ.bundle_id,
    _case.case_no,
    _case.org_id,
    _case.line_id,
    _case.region_code,
    _case.item_id,
    _case.batch_size,
).select_from(
    cast(Table, Occasion.__table__).outerjoin(cast(Table, Case.__table__), _case.id == _occ.case_id)
)
_TARGETS = _TARGETS_BASE.where(_occ.id.in_(bindparam("ids", expanding=True)))
_SET_STATUS = (
    update(cast(Table, Occasion.__table__))
    .where(_occ.id.in_(bindparam("ids", expanding=True)))
    .values(status=bindparam("new_status"))
)


@cache
def _pg_targets_sql(dialect: Dialect, many: bool) -> str:
    """The statement compiled once, for the driver: one id, or an array of ids (the same text
    for any number, so psycopg prepares it once)."""
    where = _occ.id == (any_(bindparam("ids", type_=ARRAY(Integer))) if many else bindparam("id"))
    return str(_TARGETS_BASE.where(where).compile(dialect=dialect))


def _target_rows(conn: Connection, ids: list[int]) -> Sequence[Any]:
    """Every rating's first read. On PostgreSQL the compiled text goes to the driver as it is
    (no statement cache lookup, no bind processing: ~0.1 ms of CPU less per rating); its times
    come back in the connection's zone (``rating_targets`` turns them to UTC)."""
    if conn.dialect.name != "postgresql":
        return conn.execute(_TARGETS, {"ids": ids}).all()
    many = len(ids) > 1
    sql = _pg_targets_sql(conn.dialect, many)
    return conn.exec_driver_sql(sql, {"ids": ids} if many else {"id": ids[0]}).all()


def rating_targets(*, session: Session, occasion_ids: Collection[int]) -> dict[int, RatingTarget]:
    """The occasions with what rating them needs: one query, two for bundle occasions."""
    if not occasion_ids:
        return {}
    rows = _target_rows(session.connection(), list(occasion_ids))
    bundle_ids = {r.bundle_id for r in rows if r.case_id is None and r.bundle_id is not None}
    members: dict[int, list[CreditSource]] = {b: [] for b in bundle_ids}
    bundle_nos: dict[int, str] = {}
    if bundle_ids:
        for bundle_id, org_id, line_id, region, item_id, batch in session.execute(
            select(
                Case.bundle_id,
                Case.org_id,
                Case.line_id,
                Case.region_code,
                Case.item_id,
                Case.batch_size,
            )
            .where(Case.bundle_id.in_(bundle_ids))
            .order_by(Case.id)
        ):
            members.setdefault(bundle_id or 0, []).append(
                CreditSource(org_id, line_id, region, item_id, batch)
            )
        bundle_nos = dict(
            session.execute(
                select(Bundle.id, Bundle.bundle_no).where(Bundle.id.in_(bundle_ids))
            ).all()
        )
    targets = {}
    for r in rows:
        if r.case_id is not None:
            sources: tuple[CreditSource, ...] = (
                CreditSource(r.org_id, r.line_id, r.region_code, r.item_id, r.batch_size),
            )
        else:
            sources = tuple(members.get(r.bundle_id, ()))
        targets[r.id] = RatingTarget(
            occasion_id=r.id,
            stage=r.stage,
            status=r.status,
            opens_at=r.opens_at.astimezone(UTC),
            rate_until=r.rate_until.astimezone(UTC),
            default_due=r.default_due.astimezone(UTC) if r.default_due is not None else None,
            on_site=r.on_site,
            credited=r.credited,
            rates_staff=r.rates_staff,
            staff_id=r.staff_id,
            profile_name=r.profile_name,
            case_id=r.case_id,
            bundle_id=r.bundle_id,
            case_no=r.case_no,
            bundle_no=bundle_nos.get(r.bundle_id) if r.bundle_id else None,
            sources=sources,
        )
    return targets


def set_occasion_status(
    *, session: Session, occasion_ids: Collection[int], status: OccasionStatus
) -> None:
    """Mark occasions rated, defaulted or expired in one Core statement, keeping any copy the
    session holds in step."""
    if not occasion_ids:
        return
    ids = list(occasion_ids)
    session.connection().execute(_SET_STATUS, {"ids": ids, "new_status": status.value})
    occasion_status_written(session=session, occasion_ids=ids, status=status)


def occasion_status_written(
    *, session: Session, occasion_ids: Collection[int], status: OccasionStatus
) -> None:
    """Keep the copies the session holds of occasions whose status a statement of its own
    changed (the evaluation writer's) in step with the database."""
    if not session.identity_map:
        return
    for occasion_id in occasion_ids:
        held = session.identity_map.get(identity_key(Occasion, occasion_id))
        if held is not None:
            set_committed_value(held, "status", status.value)


def find_occasion(*, session: Session, case_no: str, stage: str | None, scope: Scope) -> Occasion:
    """The occasion of a case for a stage; without a stage, the latest still open."""
    # Only the ids: rating by case number never needs the applicant's (encrypted) details.
    found = session.execute(
        select(Case.id, Case.bundle_id).where(Case.case_no == case_no, scope.case_clause())
    ).first()
    if found is None:
        raise NotFound("case_not_found", "未找到该办件", details={"case_no": case_no})
    case_id, bundle_id = found
    candidates = list(
        session.scalars(
            select(Occasion)
            .where(
                Occasion.bundle_id == bundle_id
                if bundle_id is not None
                else Occasion.case_id == case_id
            )
            .order_by(Occasion.id)
        )
    )
    if stage is not None:
        for o in candidates:
            if o.stage == stage:
                return o
        raise NotFound(
            "occasion_not_found",
            "该办件没有此环节的评价场次",
            details={"case_no": case_no, "stage": stage},
        )
    open_ones = [o for o in candidates if o.status == OccasionStatus.open.value]
    if open_ones:
        preferred = [o for o in open_ones if o.stage == Stage.overall.value] or open_ones
        return max(preferred, key=lambda o: o.opens_at)
    if candidates:
        return max(candidates, key=lambda o: o.opens_at)
    raise NotFound("occasion_not_open", "该办件尚无可评价的场次", details={"case_no": case_no})


def close_silent_occasion(*, session: Session, occasion_id: int, now: datetime) -> None:
    """Sweeper task for profiles without a default (C7): the occasion closes unrated."""
    occasion = session.get(Occasion, occasion_id)
    if occasion is not None and occasion.status == OccasionStatus.open.value:
        occasion.status = OccasionStatus.expired.value
        stat_queue.occasions_expired(session, [occasion_id])


def bundle_no(*, session: Session, case: Case) -> str | None:
    if case.bundle_id is None:
        return None
    return session.get_one(Bundle, case.bundle_id).bundle_no
