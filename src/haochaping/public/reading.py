"""What the public results pages show (G1), assembled from the statistics layer, the text
review (E1) and the work orders (F1-F5).

Everything here is open to anyone without a login, so it is read with ``Scope.all()`` but only
ever returns aggregates of regions and organisations, and for single bad reviews only what the
text review approved for publication. Never returned: raters (name, phone, ID number, C9), staff
members, windows, case numbers, work-order numbers, evaluation ids, exact dates (a month is
enough to follow a rectification), and the free text officials wrote on a work order (the
rectification measures, reports, notes): that text was never reviewed for publication and may
name people, so only its category (the cause class, how the order was resolved, whether it was
on time) is published.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.cases.models import Case
from haochaping.catalog import service as catalog
from haochaping.catalog.models import BusinessLine, Organization, Region
from haochaping.clock import BEIJING, local_date
from haochaping.errors import DomainError, NotFound
from haochaping.evaluations.models import Evaluation
from haochaping.policy import service as policy
from haochaping.policy.schemas import Cause, Profile
from haochaping.statistics import service as statistics
from haochaping.statistics.metrics import period_bounds
from haochaping.statistics.periods import Period, current_month, next_month, parse_period
from haochaping.statistics.schemas import Dimension, RankedUnit, Ranking, UnitMetrics
from haochaping.statistics.units import LEVEL_NAMES
from haochaping.textreview.models import TextReview
from haochaping.textreview.service import PUBLISHED, published_text_for
from haochaping.workorders.models import WorkOrder
from haochaping.workorders.procedure import State

# How many single bad reviews and rectification results a page lists (the newest first).
TEXT_LIMIT = 20
RECTIFICATION_LIMIT = 10
# Organisations listed on one region page; a province has thousands, its counties list them.
ORG_LIMIT = 200
_MAX_ORG_ID = 2**31 - 1

# F6, RA Art.10: the cause classes of a verified bad review, as the public reads them.
CAUSE_NAMES: dict[str, str] = {
    Cause.attitude.value: "服务态度",
    Cause.quality.value: "服务质量",
    Cause.efficiency.value: "服务效率",
    Cause.environment.value: "服务环境",
    Cause.system.value: "信息系统或其他客观原因",
}
# F4 (ZZ): how a closed order was resolved.
RESOLUTION_NAMES: dict[str, str] = {
    "rectify": "已整改",
    "ledger": "已建立台账，限期整改完成",
    "explain": "无法定依据，已解释说明",
}
# Where a bad review's rectification stands, in words for the public (no internal step names).
_PROGRESS: dict[str, str] = {
    State.registered.value: "核实中",
    State.verifying.value: "核实中",
    State.rectifying.value: "整改中",
    State.head_review.value: "整改中",
    State.office_check.value: "整改中",
    State.leader_review.value: "整改中",
    State.reporting.value: "整改中",
    State.feedback.value: "整改完成，回访评价人中",
    State.revisit.value: "整改完成，回访评价人中",
    State.appeal_pending.value: "复核中",
    State.appeal_check.value: "复核中",
    State.appeal_leader.value: "复核中",
    State.appeal_decision.value: "复核中",
    State.revoked.value: "经复核撤销",
}
_CLOSED_PROGRESS: dict[str | None, str] = {
    "rectify": "已整改办结",
    "ledger": "限期整改后办结",
    "explain": "已解释说明并办结",
}


# ---- periods --------------------------------------------------------------------------------


def default_period(now: datetime) -> Period:
    """The last complete month (Beijing time): the current one is still being rated."""
    return current_month(local_date(now)).previous()


def period_from(text: str, now: datetime) -> Period:
    """The period asked for, or the default; ``invalid_period`` (422) when malformed."""
    return parse_period(text) if text.strip() else default_period(now)


def _code(first: int, last: int) -> str:
    start = f"{first // 100}-{first % 100:02d}"
    return start if first == last else f"{start}..{last // 100}-{last % 100:02d}"


def following(period: Period) -> Period:
    """The period of the same length that starts just after this one."""
    first = next_month(period.last)
    last = first
    for _ in range(len(period.months) - 1):
        last = next_month(last)
    return Period(first, last, _code(first, last))


@dataclass(frozen=True)
class PeriodNav:
    current: Period
    previous: Period
    # None when the next period is not complete yet.
    next: Period | None


def navigation(period: Period, now: datetime) -> PeriodNav:
    after = following(period)
    complete = after.last <= default_period(now).last
    return PeriodNav(period, period.previous(), after if complete else None)


def month_label(value: datetime) -> str:
    local = value.astimezone(BEIJING)
    return f"{local.year}年{local.month}月"


# ---- what a page holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    code: str
    name: str
    level: str


@dataclass(frozen=True)
class PublicText:
    """One bad review as the text review approved it for publication (E1)."""

    month: str
    org_name: str
    level_name: str
    labels: list[str]
    text: str | None
    progress: str


@dataclass(frozen=True)
class Rectification:
    """One closed work order, by category only (see the module's docstring)."""

    month: str
    org_name: str
    cause: str
    resolution: str
    on_time: bool


@dataclass(frozen=True)
class OrgRow:
    unit: RankedUnit
    region_name: str


@dataclass(frozen=True)
class OrgGroup:
    name: str
    rows: list[OrgRow]


@dataclass(frozen=True)
class OrgRanking:
    explanation: str
    min_evaluations: int
    groups: list[OrgGroup]
    total: int
    shown: int


@dataclass(frozen=True)
class RegionPage:
    place: Place
    crumbs: list[Place]
    figures: UnitMetrics
    sub_regions: Ranking | None
    orgs: OrgRanking
    rectifications: list[Rectification]
    texts: list[PublicText]
    texts_published: bool
    scale: str


@dataclass(frozen=True)
class OrgPage:
    org_id: int
    name: str
    line: str
    place: Place
    crumbs: list[Place]
    figures: UnitMetrics
    # The organisation among the comparable ones of its city, or of its province (F6, G2).
    ranked: RankedUnit | None
    ranked_in: Place
    explanation: str
    min_evaluations: int
    rectifications: list[Rectification]
    texts: list[PublicText]
    texts_published: bool
    scale: str


@dataclass(frozen=True)
class ProvinceSummary:
    place: Place
    figures: UnitMetrics
    cities: list[UnitMetrics]


# ---- lookups --------------------------------------------------------------------------------


def _place(region: Region) -> Place:
    return Place(region.code, region.name, LEVEL_NAMES.get(region.level, region.level))


def find_region(session: Session, code: str) -> Region:
    region = session.get(Region, code) if code.isdigit() and len(code) <= 12 else None
    if region is None:
        raise NotFound("public_region_not_found", "未找到该地区，请从地区列表中重新选择")
    return region


def find_org(session: Session, ident: str) -> Organization:
    org = None
    if ident.isdigit() and len(ident) <= 10 and 1 <= int(ident) <= _MAX_ORG_ID:
        org = session.get(Organization, int(ident))
    if org is None:
        raise NotFound("public_org_not_found", "未找到该部门，请从地区页面中重新选择")
    return org


def _crumbs(session: Session, code: str) -> list[Place]:
    return [_place(r) for r in catalog.ancestors(session=session, code=code)]


def _subtree(region: Region) -> Select[str]:
    return select(Region.code).where(Region.path.startswith(region.path, autoescape=True))


def _profile(name: str) -> Profile | None:
    # The loader keeps resolved profiles. A profile removed since the rating: publish nothing
    # rather than guess.
    try:
        return policy.get_profile(name=name)
    except DomainError:
        return None


def _publishing_profiles() -> list[str]:
    """Names of the profiles under which approved texts are published (G1)."""
    found = []
    for name in policy.profile_names():
        profile = _profile(name)
        if profile is not None and profile.supervision.publish_texts:
            found.append(name)
    return found


# ---- pages ----------------------------------------------------------------------------------


def index(session: Session, period: Period) -> list[ProvinceSummary]:
    """Every top-level region (province) with its own figures and its cities'."""
    access = Scope.all()
    roots = session.scalars(
        select(Region).where(Region.parent_code.is_(None)).order_by(Region.code)
    ).all()
    result = []
    for root in roots:
        own = statistics.overview(session, access, Dimension.region, root.code, period).unit
        cities = statistics.table(
            session,
            access,
            statistics.Selection(dimension=Dimension.region, period=period, region=root.code),
        )
        result.append(ProvinceSummary(_place(root), own, cities))
    return result


def region_page(session: Session, region: Region, period: Period) -> RegionPage:
    access = Scope.all()
    figures = statistics.overview(session, access, Dimension.region, region.code, period).unit
    regions = statistics.ranking(
        session,
        access,
        statistics.Selection(dimension=Dimension.region, period=period, region=region.code),
    )
    orgs = statistics.ranking(
        session,
        access,
        statistics.Selection(dimension=Dimension.org, period=period, region=region.code),
        paging=statistics.Paging(1, ORG_LIMIT),
    )
    profile = statistics.profile_of(session, access, region)
    publish = profile.supervision.publish_texts
    where_order = WorkOrder.region_code.in_(_subtree(region))
    where_text = TextReview.region_code.in_(_subtree(region))
    return RegionPage(
        place=_place(region),
        crumbs=_crumbs(session, region.code),
        figures=figures,
        sub_regions=regions if regions.items else None,
        orgs=_org_ranking(session, orgs),
        rectifications=_rectifications(session, period, where_order),
        texts=_texts(session, period, where_text) if publish else [],
        texts_published=publish,
        scale=score_scale(profile),
    )


def _org_ranking(session: Session, ranking: Ranking) -> OrgRanking:
    shown = ranking.items
    ids = [int(r.key) for r in shown]
    regions = dict(
        session.execute(
            select(Organization.id, Region.name)
            .join(Region, Region.code == Organization.region_code)
            .where(Organization.id.in_(ids))
        ).all()
    )
    groups: dict[str, list[OrgRow]] = defaultdict(list)
    for unit in shown:
        groups[unit.group].append(OrgRow(unit, regions.get(int(unit.key), "")))
    return OrgRanking(
        explanation=ranking.explanation,
        min_evaluations=ranking.min_evaluations,
        groups=[OrgGroup(name, rows) for name, rows in groups.items()],
        total=ranking.total,
        shown=len(shown),
    )


def org_page(session: Session, org: Organization, period: Period) -> OrgPage:
    access = Scope.all()
    figures = statistics.overview(session, access, Dimension.org, str(org.id), period).unit
    crumbs = _crumbs(session, org.region_code)
    # Ranked as on its city's page (the province's own organisations: on the province's),
    # which is also what keeps one organisation's page from reading a whole province.
    within = crumbs[1] if len(crumbs) > 1 else crumbs[0]
    ranking = statistics.ranking(
        session,
        access,
        statistics.Selection(dimension=Dimension.org, period=period, region=within.code),
        only={str(org.id)},
    )
    ranked = next((r for r in ranking.items if r.key == str(org.id)), None)
    line = session.get(BusinessLine, org.line_id) if org.line_id is not None else None
    profile = policy.profile_for_region(session=session, region_code=org.region_code)
    publish = profile.supervision.publish_texts
    orders_of_org = WorkOrder.org_id == org.id
    texts_of_org = func.coalesce(WorkOrder.org_id, Case.org_id) == org.id
    return OrgPage(
        org_id=org.id,
        name=org.name,
        line=line.name if line is not None else "综合",
        place=crumbs[-1],
        crumbs=crumbs,
        figures=figures,
        ranked=ranked,
        ranked_in=within,
        explanation=ranking.explanation,
        min_evaluations=ranking.min_evaluations,
        rectifications=_rectifications(session, period, orders_of_org),
        texts=_texts(session, period, texts_of_org) if publish else [],
        texts_published=publish,
        scale=score_scale(profile),
    )


def _rectifications(
    session: Session, period: Period, where: ColumnElement[bool]
) -> list[Rectification]:
    """The newest closed work orders received in the period: categories only."""
    start, end = period_bounds(period)
    rows = session.execute(
        select(
            WorkOrder.received_at,
            Organization.name,
            WorkOrder.cause,
            WorkOrder.resolution,
            WorkOrder.overdue,
        )
        .join(Organization, Organization.id == WorkOrder.org_id)
        .where(
            where,
            WorkOrder.state == State.closed.value,
            WorkOrder.received_at >= start,
            WorkOrder.received_at < end,
        )
        .order_by(WorkOrder.closed_at.desc(), WorkOrder.id.desc())
        .limit(RECTIFICATION_LIMIT)
    ).all()
    return [
        Rectification(
            month=month_label(received),
            org_name=org_name,
            cause=CAUSE_NAMES.get(cause or "", "未分类"),
            resolution=RESOLUTION_NAMES.get(resolution or "", "已办结"),
            on_time=not overdue,
        )
        for received, org_name, cause, resolution, overdue in rows
    ]


def progress(state: str | None, resolution: str | None) -> str:
    """Where a bad review's rectification stands, for the public."""
    if state is None:
        return "待核实处理"
    if state == State.closed.value:
        return _CLOSED_PROGRESS.get(resolution, "已办结")
    return _PROGRESS.get(state, "办理中")


def _texts(session: Session, period: Period, where: ColumnElement[bool]) -> list[PublicText]:
    """The newest bad reviews of the period whose text review allows publication (E1), with
    what was approved (never the original) and their rectification's state."""
    allowed = _publishing_profiles()
    if not allowed:
        return []
    start, end = period_bounds(period)
    rows = session.execute(
        select(
            Evaluation.id,
            Evaluation.rated_at,
            Evaluation.level,
            Evaluation.profile_name,
            Organization.name,
            WorkOrder.state,
            WorkOrder.resolution,
        )
        .select_from(TextReview)
        .join(Evaluation, Evaluation.id == TextReview.evaluation_id)
        .outerjoin(WorkOrder, WorkOrder.evaluation_id == Evaluation.id)
        .outerjoin(Case, Case.id == Evaluation.case_id)
        .outerjoin(Organization, Organization.id == func.coalesce(WorkOrder.org_id, Case.org_id))
        .where(
            where,
            TextReview.status.in_(PUBLISHED),
            Evaluation.revoked_at.is_(None),
            Evaluation.profile_name.in_(allowed),
            Evaluation.rated_at >= start,
            Evaluation.rated_at < end,
        )
        .order_by(Evaluation.rated_at.desc(), Evaluation.id.desc())
        .limit(TEXT_LIMIT)
    ).all()
    # The text review's own rule decides what is public, whatever the query above found.
    published = published_text_for(session=session, evaluation_ids=[row[0] for row in rows])
    result = []
    for evaluation_id, rated_at, level, profile_name, org_name, state, resolution in rows:
        approved = published.get(evaluation_id)
        profile = _profile(profile_name)
        if approved is None or profile is None:
            continue
        if not approved.text and not approved.label_codes:
            continue
        names = profile.labels.by_code()
        spec = profile.levels.get(int(level))
        result.append(
            PublicText(
                month=month_label(rated_at),
                org_name=org_name or "",
                level_name=spec.name if spec else "",
                labels=[names[c].name for c in approved.label_codes if c in names],
                text=approved.text,
                progress=progress(state, resolution),
            )
        )
    return result


def score_scale(profile: Profile) -> str:
    """B1: the score of each level under the profile, best first ("非常满意10分、…")."""
    return "、".join(
        f"{spec.name}{spec.score:g}分" for _, spec in sorted(profile.levels.items(), reverse=True)
    )


def format_score(value: float | None) -> str:
    return "暂无" if value is None else f"{value:.2f}"


def format_share(value: float | None) -> str:
    return "暂无" if value is None else f"{value * 100:.1f}%"


def on_time_rate(figures: UnitMetrics) -> float | None:
    tally = figures.work_orders
    return tally.on_time / tally.closed if tally.closed else None
