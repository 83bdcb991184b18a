"""What a bulletin (通报, G2) says, gathered for one region and one period inside the caller's
scope: the region's figures against the previous period, the table, ranking and focus list of
every dimension (read through ``statistics.service``, so the bulletin shows exactly what the
dashboards show), the overdue work orders and a few typical bad reviews with their
rectification.

Nothing personal leaves this module (C9): work orders are read column by column (never the
complainant's name or phone), a bad review is quoted only as published after the text review
(E1, ``textreview.service.published_text_for``), and every free text is masked once more for
the rater's own name, phone and ID number and for anything that looks like a phone or ID
number.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.cases.models import Case
from haochaping.catalog.models import Organization, Region, RegionLevel, ServiceItem, Window
from haochaping.clock import BEIJING
from haochaping.errors import DomainError
from haochaping.evaluations.models import Evaluation
from haochaping.policy import service as policy
from haochaping.policy.schemas import Cause, Profile, Supervision
from haochaping.statistics import service
from haochaping.statistics.metrics import period_bounds
from haochaping.statistics.periods import Period
from haochaping.statistics.schemas import (
    Dimension,
    FocusEntry,
    Overview,
    Ranking,
    UnitMetrics,
)
from haochaping.statistics.units import check_dimension
from haochaping.textreview.service import published_text_for, suggest_redaction
from haochaping.workorders.models import (
    SOURCE_LABELS,
    VERDICT_LABELS,
    OrderSource,
    WorkOrder,
    WorkOrderStep,
)
from haochaping.workorders.procedure import FINAL_STATES, STATE_LABELS, State

# The dimensions of a bulletin, in the order of the workbook's sheets.
DIMENSIONS: tuple[Dimension, ...] = (
    Dimension.region,
    Dimension.org,
    Dimension.window,
    Dimension.staff,
    Dimension.line,
    Dimension.item,
)
SECTION_TITLES: dict[Dimension, str] = {
    Dimension.region: "下级地区",
    Dimension.org: "部门",
    Dimension.window: "窗口",
    Dimension.staff: "工作人员",
    Dimension.line: "业务条线",
    Dimension.item: "服务事项",
}

# F6, RA Art.10: the cause classes of a verified bad review (as on the work-order pages).
CAUSE_LABELS: dict[str, str] = {
    Cause.attitude.value: "服务态度",
    Cause.quality.value: "服务质量",
    Cause.efficiency.value: "服务效率",
    Cause.environment.value: "服务环境",
    Cause.system.value: "信息系统或其他客观原因",
}
RESOLUTION_LABELS: dict[str, str] = {
    "rectify": "整改",
    "ledger": "无法按期整改，已建立台账",
    "explain": "无法定依据，已解释说明",
}

# Typical bad reviews quoted in the document.
TYPICAL_LIMIT = 5
_CHUNK = 900


@dataclass(frozen=True)
class DimensionSection:
    """One dimension of the bulletin: every unit's figures, the fair ranking (G2) and the focus
    objects (F6), all as the statistics service gives them."""

    dimension: Dimension
    title: str
    rows: list[UnitMetrics]
    ranking: Ranking
    focus: list[FocusEntry]


@dataclass(frozen=True)
class OverdueOrder:
    """A work order some step of which went past its deadline; no personal data."""

    order_no: str
    source: str
    region: str
    org: str
    window: str
    received_at: datetime
    state: str
    closed: bool
    escalated: bool
    cause: str
    # The steps that went past their deadline, with the deadline (Beijing time).
    overdue_steps: list[tuple[str, datetime | None]] = field(default_factory=list)


@dataclass(frozen=True)
class TypicalReview:
    """A bad review as published after the text review (E1), and what was done about it."""

    order_no: str
    rated_at: datetime
    region: str
    org: str
    window: str
    item: str
    level_name: str
    labels: list[str]
    text: str | None
    verdict: str
    cause: str
    measures: str
    resolution: str
    state: str
    closed: bool


@dataclass(frozen=True)
class Bulletin:
    region_code: str
    region_name: str
    region_level: str
    # "全区", "全市", "全县"...: how the bulletin names its own region.
    area: str
    period: Period
    previous: Period
    current: Overview
    prior: UnitMetrics
    level_names: dict[int, str]
    supervision: Supervision
    explanation: str
    sections: list[DimensionSection]
    overdue: list[OverdueOrder]
    typical: list[TypicalReview]
    generated_at: datetime
    issuer: str | None = None

    @property
    def title(self) -> str:
        return f"关于{self.period.label}{self.area}政务服务“好差评”情况的通报"

    @property
    def compared_to(self) -> str:
        """较上月 / 较上季度 / 较上年 / 较上期."""
        code = self.period.code
        if len(self.period.months) == 1:
            return "较上月"
        if "-Q" in code.upper():
            return "较上季度"
        if code.isdigit():
            return "较上年"
        return "较上期"

    def section(self, dimension: Dimension) -> DimensionSection | None:
        return next((s for s in self.sections if s.dimension is dimension), None)


def area_word(name: str, level: str) -> str:
    """How an office names its own region in a bulletin: 全区 (自治区, 区), 全省, 全市, 全州,
    全县, 全旗, 全镇, 全乡...; the region's name when nothing fits."""
    suffixes: tuple[tuple[str, str], ...] = (
        ("自治区", "全区"),
        ("特别行政区", "全区"),
        ("自治州", "全州"),
        ("自治县", "全县"),
        ("自治旗", "全旗"),
        ("地区", "全地区"),
        ("街道", "全街道"),
        ("社区", "全社区"),
        ("省", "全省"),
        ("市", "全市"),
        ("州", "全州"),
        ("盟", "全盟"),
        ("县", "全县"),
        ("区", "全区"),
        ("旗", "全旗"),
        ("镇", "全镇"),
        ("乡", "全乡"),
        ("村", "全村"),
    )
    for suffix, word in suffixes:
        if name.endswith(suffix):
            return word
    if level == RegionLevel.province.value:
        return "全省"
    return name


# --- gathering -----------------------------------------------------------------------------------


def gather(
    session: Session,
    access: Scope,
    region_code: str | None,
    period: Period,
    *,
    now: datetime | None = None,
    issuer: str | None = None,
    typical_limit: int = TYPICAL_LIMIT,
) -> Bulletin:
    """Everything a bulletin of ``region_code`` (the caller's own region when None) over
    ``period`` says. Refused like the dashboards: a region outside the scope is 403, an unknown
    one 404, a caller without the region dimension (an organisation, a clerk) 403."""
    check_dimension(access, Dimension.region)
    region = service.resolve_region(session, access, region_code)
    if region is None:
        raise DomainError("region_required", "请指定通报的地区", status_code=422)
    profile = service.profile_of(session, access, region)
    previous = period.previous()
    current = service.overview(session, access, Dimension.region, region.code, period)
    prior = service.overview(session, access, Dimension.region, region.code, previous).unit
    sections = []
    for dimension in DIMENSIONS:
        selection = service.Selection(dimension=dimension, period=period, region=region.code)
        sections.append(
            DimensionSection(
                dimension=dimension,
                title=SECTION_TITLES[dimension],
                rows=service.table(session, access, selection),
                ranking=service.ranking(session, access, selection),
                focus=service.focus(session, access, selection),
            )
        )
    return Bulletin(
        region_code=region.code,
        region_name=region.name,
        region_level=region.level,
        area=area_word(region.name, region.level),
        period=period,
        previous=previous,
        current=current,
        prior=prior,
        level_names={level: spec.name for level, spec in profile.levels.items()},
        supervision=profile.supervision,
        explanation=sections[0].ranking.explanation,
        sections=sections,
        overdue=overdue_orders(session, access, region, period),
        typical=typical_reviews(session, access, region, period, limit=typical_limit),
        generated_at=(now or datetime.now(UTC)).astimezone(BEIJING),
        issuer=issuer,
    )


def _subtree(region: Region) -> Select[str]:
    return select(Region.code).where(Region.path.startswith(region.path, autoescape=True))


def _in_scope(access: Scope) -> ColumnElement[bool]:
    return access.units_clause(
        region_code=WorkOrder.region_code, org_id=WorkOrder.org_id, staff_id=WorkOrder.staff_id
    )


def _local(value: datetime) -> datetime:
    return value.astimezone(BEIJING)


def _label(labels: dict[str, str], value: str | None) -> str:
    if not value:
        return ""
    return labels.get(value, value)


def _state(value: str) -> tuple[str, bool]:
    try:
        state = State(value)
    except ValueError:
        return value, False
    return STATE_LABELS[state], state in FINAL_STATES


def overdue_orders(
    session: Session, access: Scope, region: Region, period: Period
) -> list[OverdueOrder]:
    """Work orders of the region (inside the scope) that went past a deadline: those received in
    the period, and those received earlier that were still open when the period began."""
    start, end = period_bounds(period)
    rows = session.execute(
        select(
            WorkOrder.id,
            WorkOrder.order_no,
            WorkOrder.source,
            WorkOrder.state,
            WorkOrder.escalated_to,
            WorkOrder.cause,
            WorkOrder.received_at,
            Region.name,
            Organization.name,
            Window.name,
        )
        .join(Organization, Organization.id == WorkOrder.org_id)
        .join(Region, Region.code == WorkOrder.region_code)
        .outerjoin(Window, Window.id == WorkOrder.window_id)
        .where(
            WorkOrder.overdue.is_(True),
            WorkOrder.region_code.in_(_subtree(region)),
            WorkOrder.received_at < end,
            or_(
                WorkOrder.received_at >= start,
                WorkOrder.closed_at.is_(None),
                WorkOrder.closed_at >= start,
            ),
            _in_scope(access),
        )
        .order_by(WorkOrder.received_at, WorkOrder.order_no)
    )
    found = list(rows)
    steps = _overdue_steps(session, [r[0] for r in found])
    sources = {s.value: label for s, label in SOURCE_LABELS.items()}
    result = []
    for ident, order_no, source, state, escalated, cause, received, rname, oname, wname in found:
        state_label, closed = _state(state)
        result.append(
            OverdueOrder(
                order_no=order_no,
                source=_label(sources, source),
                region=rname,
                org=oname,
                window=wname or "",
                received_at=_local(received),
                state=state_label,
                closed=closed,
                escalated=escalated is not None,
                cause=_label(CAUSE_LABELS, cause),
                overdue_steps=steps.get(ident, []),
            )
        )
    return result


def _overdue_steps(
    session: Session, order_ids: Sequence[int]
) -> dict[int, list[tuple[str, datetime | None]]]:
    result: dict[int, list[tuple[str, datetime | None]]] = {}
    for start in range(0, len(order_ids), _CHUNK):
        rows = session.execute(
            select(WorkOrderStep.order_id, WorkOrderStep.state, WorkOrderStep.due_at)
            .where(
                WorkOrderStep.order_id.in_(list(order_ids[start : start + _CHUNK])),
                WorkOrderStep.overdue_at.is_not(None),
            )
            .order_by(WorkOrderStep.order_id, WorkOrderStep.started_at, WorkOrderStep.id)
        )
        for order_id, state, due_at in rows:
            label, _ = _state(state)
            result.setdefault(order_id, []).append(
                (label, _local(due_at) if due_at is not None else None)
            )
    return result


def typical_reviews(
    session: Session, access: Scope, region: Region, period: Period, *, limit: int
) -> list[TypicalReview]:
    """Bad reviews made in the period in the region whose labels or text were published after
    the text review (E1), with their work order: the worst levels first, those with a quoted
    text and with rectification measures before the others."""
    start, end = period_bounds(period)
    rows = list(
        session.execute(
            select(
                WorkOrder.order_no,
                WorkOrder.evaluation_id,
                WorkOrder.case_id,
                WorkOrder.verdict,
                WorkOrder.cause,
                WorkOrder.measures,
                WorkOrder.resolution,
                WorkOrder.state,
                Evaluation.level,
                Evaluation.rated_at,
                Region.code,
                Region.name,
                Organization.name,
                Window.name,
                ServiceItem.name,
            )
            .join(Evaluation, Evaluation.id == WorkOrder.evaluation_id)
            .join(Organization, Organization.id == WorkOrder.org_id)
            .join(Region, Region.code == WorkOrder.region_code)
            .outerjoin(Window, Window.id == WorkOrder.window_id)
            .outerjoin(Case, Case.id == WorkOrder.case_id)
            .outerjoin(ServiceItem, ServiceItem.id == Case.item_id)
            .where(
                WorkOrder.source == OrderSource.evaluation.value,
                Evaluation.rated_at >= start,
                Evaluation.rated_at < end,
                Evaluation.revoked_at.is_(None),
                WorkOrder.state != State.revoked.value,
                WorkOrder.region_code.in_(_subtree(region)),
                _in_scope(access),
            )
        )
    )
    published = published_text_for(
        session=session, evaluation_ids=[r[1] for r in rows if r[1] is not None]
    )
    candidates = []
    for row in rows:
        text = published.get(row[1]) if row[1] is not None else None
        if text is not None and (text.text or text.label_codes):
            candidates.append((row, text))
    candidates.sort(
        key=lambda pair: (
            not (pair[1].text or "").strip(),
            pair[0][8],
            not (pair[0][5] or "").strip(),
            pair[0][9],
            pair[0][0],
        )
    )
    chosen = candidates[:limit]
    secrets = _rater_secrets(session, [row[2] for row, _ in chosen if row[2] is not None])
    profiles: dict[str, Profile] = {}
    verdicts = {v.value: label for v, label in VERDICT_LABELS.items()}
    result = []
    for (
        (
            order_no,
            _evaluation_id,
            case_id,
            verdict,
            cause,
            measures,
            resolution,
            state,
            level,
            rated_at,
            rcode,
            rname,
            oname,
            wname,
            iname,
        ),
        text,
    ) in chosen:
        profile = profiles.get(rcode)
        if profile is None:
            profile = profiles[rcode] = policy.profile_for_region(
                session=session, region_code=rcode
            )
        catalogue = profile.labels.by_code()
        hidden = secrets.get(case_id, []) if case_id is not None else []
        state_label, closed = _state(state)
        spec = profile.levels.get(level)
        result.append(
            TypicalReview(
                order_no=order_no,
                rated_at=_local(rated_at),
                region=rname,
                org=oname,
                window=wname or "",
                item=iname or "",
                level_name=spec.name if spec is not None else str(level),
                labels=[
                    catalogue[code].name if code in catalogue else code for code in text.label_codes
                ],
                text=scrub(text.text, hidden) if text.text else None,
                verdict=_label(verdicts, verdict),
                cause=_label(CAUSE_LABELS, cause),
                measures=scrub(measures or "", hidden),
                resolution=_label(RESOLUTION_LABELS, resolution),
                state=state_label,
                closed=closed,
            )
        )
    return result


def _rater_secrets(session: Session, case_ids: Sequence[int]) -> dict[int, list[str]]:
    """The rater's own name, phone and ID number of each case, to be masked wherever they
    turn up in free text (C9)."""
    result: dict[int, list[str]] = {}
    if not case_ids:
        return result
    rows = session.execute(
        select(Case.id, Case.applicant_name, Case.applicant_phone, Case.applicant_id_no).where(
            Case.id.in_(sorted(set(case_ids)))
        )
    )
    for case_id, name, phone, id_no in rows:
        result[case_id] = [v for v in (name, phone, id_no) if v and len(v.strip()) >= 2]
    return result


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with the given personal strings, phone numbers and ID numbers masked by ``*``."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = text.replace(secret, "*" * len(secret))
    return suggest_redaction(text)
