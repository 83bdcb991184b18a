"""Demo cases and evaluations: the plan of ``planning``, written through the real services.

Every case goes through ``cases.service.upsert_case`` at its own time, every rating through
``evaluations.service.submit`` shortly after its occasion opens, so occasions, deadlines,
supplementary flags and credits are exactly what production would hold; the sweeper then turns
silence older than 7 days into defaults (C7). Deterministic for a seed and a ``now``.
"""

from __future__ import annotations

import random
import time as clock
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from haochaping import sweeper
from haochaping.access.scope import Scope
from haochaping.calendar.models import CalendarOverride, CalendarYear
from haochaping.calendar.service import WorkCalendar
from haochaping.callbacks.models import CallbackItem
from haochaping.cases import service as cases
from haochaping.cases.models import Bundle, Case, Occasion, OccasionStatus, Stage
from haochaping.cases.schemas import CaseIn
from haochaping.catalog.models import (
    BusinessLine,
    Hall,
    ItemKind,
    Organization,
    Region,
    ServiceItem,
    Staff,
    Window,
)
from haochaping.clock import ensure_aware, local_date
from haochaping.db import Database
from haochaping.demo.catalogue import build_catalogue, load_catalogue
from haochaping.demo.planning import Member, Planner, Rater, Visit, credit_code, id_number
from haochaping.demo.voices import add_voices
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.models import Evaluation, FollowUp
from haochaping.models import Base
from haochaping.remarks.models import Remark

# id_number and credit_code stay importable from here, where the demo's callers first found them.
__all__ = [
    "DemoSummary",
    "Progress",
    "credit_code",
    "existing_data",
    "generate_demo",
    "id_number",
    "reset_database",
    "summarize",
]

Progress = Callable[[int, int], None]

# The demo writes as the system itself, across the whole catalogue.
ALL = Scope.all()

# Cases per committed transaction.
COMMIT_EVERY = 500
# The work calendar is an administrator's, not demo data: --reset keeps it.
KEPT_TABLES = frozenset({CalendarOverride.__tablename__, CalendarYear.__tablename__})


@dataclass
class DemoSummary:
    """What the demo database holds once generated, counted from the tables themselves."""

    regions: int
    halls: int
    lines: int
    organisations: int
    items: int
    windows: int
    staff: int
    cases: int
    bundles: int
    batches: int
    occasions: int
    open_occasions: int
    active_evaluations: int
    default_evaluations: int
    bad_reviews: int
    supplementary: int
    follow_ups: int
    per_channel: dict[int, int]
    sample_case_no: str | None
    remarks: int = 0
    callback_items: int = 0
    seconds: float = 0.0


# --------------------------------------------------------------------------- writing


@dataclass
class _Writer:
    """Registers each visit's cases step by step and submits what the rater decides."""

    rater: Rater
    case_seq: int = 0
    bundle_seq: int = 0

    def run(self, session: Session, visit: Visit) -> None:
        if visit.bundle_name is not None:
            self._bundle(session, visit)
        else:
            self._single(session, visit)

    def _case_in(self, visit: Visit, member: Member, case_no: str, **stamps: object) -> CaseIn:
        return CaseIn.model_validate(
            {
                "case_no": case_no,
                "item_code": member.item.code,
                "region_code": member.region_code,
                "hall_code": member.hall_code,
                "window_code": member.window_code,
                "staff_code": member.staff.code if member.staff else None,
                "applicant": visit.applicant,
                "handling": member.handling,
                "accepted_at": member.accepted_at,
                "batch_size": member.batch_size,
                **stamps,
            }
        )

    def _case_no(self, member: Member) -> str:
        self.case_seq += 1
        region = member.item.org_code[:6]
        return f"{region}{local_date(member.accepted_at):%Y%m%d}{self.case_seq:06d}"

    def _single(self, session: Session, visit: Visit) -> None:
        member = visit.members[0]
        case_no = self._case_no(member)
        if member.item.template.kind is ItemKind.immediate:
            done = visit.completed_at or member.accepted_at
            data = self._case_in(visit, member, case_no, completed_at=visit.completed_at)
            case, _ = cases.upsert_case(session=session, data=data, now=done, scope=ALL)
            self._rate_new(session, case, visit, {Stage.complete}, result=False)
            return
        data = self._case_in(visit, member, case_no)
        case, _ = cases.upsert_case(session=session, data=data, now=member.accepted_at, scope=ALL)
        self._rate_new(session, case, visit, {Stage.accept}, result=False)
        if visit.completed_at is None:
            return
        data = self._case_in(
            visit,
            member,
            case_no,
            approved_at=visit.approved_at,
            delivered_at=visit.completed_at,
            completed_at=visit.completed_at,
        )
        case, _ = cases.upsert_case(session=session, data=data, now=visit.completed_at, scope=ALL)
        self._rate_new(session, case, visit, {Stage.complete}, result=True)

    def _bundle(self, session: Session, visit: Visit) -> None:
        """C2: every member is registered at each step, as the business systems would."""
        self.bundle_seq += 1
        region = visit.members[0].item.org_code[:6]
        bundle_no = f"YJS{region}{local_date(visit.at):%Y%m%d}{self.bundle_seq:04d}"
        numbers = [self._case_no(m) for m in visit.members]
        approved, completed = visit.approved_at, visit.completed_at
        steps: list[tuple[datetime | None, dict[str, datetime | None], set[Stage]]] = [
            (None, {}, {Stage.accept}),
            (approved, {"approved_at": approved}, {Stage.approve}),
            (
                completed,
                {"approved_at": approved, "delivered_at": completed, "completed_at": completed},
                {Stage.deliver, Stage.overall},
            ),
        ]
        for at, stamps, stages in steps:
            if stamps and at is None:
                return  # still in progress
            case: Case | None = None
            for member, case_no in zip(visit.members, numbers, strict=True):
                data = self._case_in(
                    visit,
                    member,
                    case_no,
                    bundle_no=bundle_no,
                    bundle_name=visit.bundle_name,
                    **stamps,
                )
                now = at or member.accepted_at
                case, _ = cases.upsert_case(session=session, data=data, now=now, scope=ALL)
            assert case is not None
            self._rate_new(session, case, visit, stages, result=Stage.overall in stages)

    def _rate_new(
        self, session: Session, case: Case, visit: Visit, stages: set[Stage], *, result: bool
    ) -> None:
        """Rate (or not) the occasions of the case or its bundle that have just opened."""
        own, shared = cases.case_occasions(session=session, case=case)
        for occasion in own + shared:
            if occasion.stage in stages and occasion.status == OccasionStatus.open.value:
                self._rate(session, occasion, visit, result=result)

    def _rate(self, session: Session, occasion: Occasion, visit: Visit, *, result: bool) -> None:
        rating = self.rater.rating(occasion, visit, result=result)
        if rating is None:
            return
        evaluation = evaluations.submit(
            session=session, data=rating.evaluation, now=rating.at, scope=ALL
        )
        if rating.follow_up is not None:
            later, follow = rating.follow_up
            evaluations.follow_up(
                session=session, evaluation_id=evaluation.id, data=follow, now=later, scope=ALL
            )


# --------------------------------------------------------------------------- entry points


def existing_data(db: Database) -> tuple[int, int]:
    """How many cases and regions the database already holds."""
    with db.transaction() as session:
        n_cases = session.scalar(select(func.count()).select_from(Case)) or 0
        n_regions = session.scalar(select(func.count()).select_from(Region)) or 0
    return int(n_cases), int(n_regions)


def reset_database(db: Database) -> None:
    """Delete every row but the work calendar, children before parents."""
    with db.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEPT_TABLES:
                session.execute(table.delete())


def generate_demo(
    *,
    db: Database,
    cases: int,
    days: int,
    seed: int,
    now: datetime,
    progress: Progress | None = None,
) -> DemoSummary:
    """Load the demo catalogue, register ``cases`` cases over the last ``days`` days,
    rate ~70 % of their occasions and sweep the rest into defaults. Commits as it goes."""
    started = clock.perf_counter()
    now = ensure_aware(now).astimezone(UTC)
    catalogue = build_catalogue(random.Random(f"catalogue-{seed}"))
    with db.transaction() as session:
        load_catalogue(session, catalogue)
        calendar = WorkCalendar.load(session)
    planner = Planner(random.Random(f"plan-{seed}"), catalogue, calendar, now, max(days, 1))
    visits = planner.visits(cases)
    writer = _Writer(Rater(random.Random(f"rate-{seed}"), now))
    done = 0
    for chunk in _chunks(visits):
        with db.transaction() as session:
            # The identity map holds rows weakly: keeping the catalogue referenced lets the
            # services' lookups by primary key (regions, organisations) skip the database.
            keep = [*session.scalars(select(Region)), *session.scalars(select(Organization))]
            for visit in chunk:
                writer.run(session, visit)
                done += len(visit.members)
                if progress is not None:
                    progress(done, cases)
            del keep
    sweeper.run_sweep(db, now)
    with db.transaction() as session:
        add_voices(session, rng=random.Random(f"voices-{seed}"), now=now)
    with db.transaction() as session:
        summary = summarize(session)
    summary.seconds = clock.perf_counter() - started
    return summary


def _chunks(visits: Sequence[Visit]) -> list[list[Visit]]:
    chunks: list[list[Visit]] = [[]]
    size = 0
    for visit in visits:
        if size >= COMMIT_EVERY:
            chunks.append([])
            size = 0
        chunks[-1].append(visit)
        size += len(visit.members)
    return chunks


def summarize(session: Session) -> DemoSummary:
    """Count what the database holds (all of it, demo or not)."""

    def count(model: type[Base], *where: ColumnElement[bool]) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

    channels = session.execute(
        select(Evaluation.channel, func.count())
        .where(Evaluation.is_default.is_(False))
        .group_by(Evaluation.channel)
    ).all()
    sample = session.scalar(
        select(Case.case_no).where(Case.bundle_id.is_not(None)).order_by(Case.id).limit(1)
    ) or session.scalar(select(Case.case_no).order_by(Case.id).limit(1))
    return DemoSummary(
        regions=count(Region),
        halls=count(Hall),
        lines=count(BusinessLine),
        organisations=count(Organization),
        items=count(ServiceItem),
        windows=count(Window),
        staff=count(Staff),
        cases=count(Case),
        bundles=count(Bundle),
        batches=count(Case, Case.batch_size > 1),
        occasions=count(Occasion),
        open_occasions=count(Occasion, Occasion.status == OccasionStatus.open.value),
        active_evaluations=count(Evaluation, Evaluation.is_default.is_(False)),
        default_evaluations=count(Evaluation, Evaluation.is_default.is_(True)),
        bad_reviews=count(Evaluation, Evaluation.is_bad.is_(True)),
        supplementary=count(Evaluation, Evaluation.supplementary.is_(True)),
        follow_ups=count(FollowUp),
        per_channel={int(c): int(n) for c, n in channels if c is not None},
        sample_case_no=sample,
        remarks=count(Remark),
        callback_items=count(CallbackItem),
    )
