"""What the rating page shows of an occasion: the service, who gave it, the state of its rating.

Only catalogue names and the case number are read; the rater's name, ID number and phone are
never selected (C9), so they cannot reach a page by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.calendar.service import add_duration
from haochaping.cases import service as cases
from haochaping.cases.models import Bundle, Case, OccasionStatus
from haochaping.catalog.models import Hall, Organization, ServiceItem, Staff, Window
from haochaping.errors import NotFound
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.schemas import EvaluationOut
from haochaping.policy import service as policy
from haochaping.policy.schemas import Label, Profile, StaffShown

STAGE_NAMES = {
    "accept": "受理环节",
    "approve": "审批环节",
    "deliver": "出件环节",
    "complete": "办结",
    "overall": "整体评价",
}


@dataclass(frozen=True)
class LabelGroup:
    """Labels shown for the same levels (B4), by their catalogue group (服务态度…)."""

    levels: tuple[int, ...]
    groups: tuple[tuple[str, tuple[Label, ...]], ...]


@dataclass(frozen=True)
class OccasionView:
    occasion_id: int
    stage: str
    stage_name: str
    status: str
    opens_at: datetime
    rate_until: datetime
    on_site: bool
    case_no: str | None
    bundle_name: str | None
    items: tuple[str, ...]
    orgs: tuple[str, ...]
    hall: str | None
    window: str | None
    staff: str | None
    batch_size: int
    profile: Profile

    @property
    def rated(self) -> bool:
        return self.status in (OccasionStatus.rated.value, OccasionStatus.defaulted.value)


def occasion_view(*, session: Session, occasion_id: int) -> OccasionView:
    """The occasion as the rater sees it; ``occasion_not_found`` when it does not exist."""
    target = cases.rating_targets(session=session, occasion_ids=[occasion_id]).get(occasion_id)
    if target is None:
        raise NotFound(
            "occasion_not_found",
            "未找到该评价场次，请向办理单位重新获取评价链接。",
            details={"occasion_id": occasion_id},
        )
    profile = policy.get_profile(name=target.profile_name)
    hall = window = staff = bundle_name = None
    batch = 1
    items: tuple[str, ...]
    orgs: tuple[str, ...]
    if target.case_id is not None:
        row = session.execute(
            select(
                ServiceItem.name,
                Organization.name,
                Case.hall_id,
                Case.window_id,
                Case.batch_size,
            )
            .select_from(Case)
            .join(ServiceItem, ServiceItem.id == Case.item_id)
            .join(Organization, Organization.id == Case.org_id)
            .where(Case.id == target.case_id)
        ).one()
        items, orgs = (row[0],), (row[1],)
        batch = row.batch_size
        hall = session.scalar(select(Hall.name).where(Hall.id == row.hall_id))
        window = session.scalar(select(Window.name).where(Window.id == row.window_id))
    else:
        members = session.execute(
            select(ServiceItem.name, Organization.name)
            .select_from(Case)
            .join(ServiceItem, ServiceItem.id == Case.item_id)
            .join(Organization, Organization.id == Case.org_id)
            .where(Case.bundle_id == target.bundle_id)
            .order_by(Case.id)
        ).all()
        items = tuple(dict.fromkeys(m[0] for m in members))
        orgs = tuple(dict.fromkeys(m[1] for m in members))
        bundle_name = session.scalar(select(Bundle.name).where(Bundle.id == target.bundle_id))
    if target.rates_staff and target.staff_id is not None:
        staff = _staff_text(session, target.staff_id, profile.staff_shown)
    return OccasionView(
        occasion_id=occasion_id,
        stage=target.stage,
        stage_name=STAGE_NAMES.get(target.stage, target.stage),
        status=target.status,
        opens_at=target.opens_at,
        rate_until=target.rate_until,
        on_site=target.on_site,
        case_no=target.case_no,
        bundle_name=bundle_name or (target.bundle_no if target.case_id is None else None),
        items=items,
        orgs=orgs,
        hall=hall,
        window=window,
        staff=staff,
        batch_size=batch,
        profile=profile,
    )


def _staff_text(session: Session, staff_id: int, shown: StaffShown) -> str | None:
    if shown is StaffShown.hidden:
        return None
    row = session.execute(select(Staff.name, Staff.code).where(Staff.id == staff_id)).one()
    if shown is StaffShown.number:
        return f"工号 {row.code}"
    return f"{row.name}（工号 {row.code}）"


def label_groups(profile: Profile) -> list[LabelGroup]:
    """B4: the catalogue's labels by the levels they are shown for, then by group, in the
    catalogue's order."""
    by_levels: dict[tuple[int, ...], dict[str, list[Label]]] = {}
    for label in profile.labels.labels:
        levels = tuple(sorted(set(label.levels)))
        by_levels.setdefault(levels, {}).setdefault(label.group, []).append(label)
    return [
        LabelGroup(levels, tuple((g, tuple(ls)) for g, ls in groups.items()))
        for levels, groups in by_levels.items()
    ]


@dataclass(frozen=True)
class RatingState:
    """The stored evaluation of an occasion, and whether its follow-up can still be made."""

    evaluation: EvaluationOut
    follow_up_open: bool
    follow_up_until: datetime | None
    follow_up_refusal: str | None


def rating_state(*, session: Session, view: OccasionView, now: datetime) -> RatingState | None:
    """The occasion's evaluation, if any. The link is the rater's credential for this one
    occasion, so the evaluation is read without a caller's scope."""
    found = evaluations.evaluations_of_occasions(
        session=session, occasion_ids=[view.occasion_id], scope=Scope.all()
    )
    if not found:
        return None
    evaluation = found[0]
    profile = policy.get_profile(name=evaluation.profile_name)
    refusal: str | None = None
    until: datetime | None = None
    if evaluation.is_default:
        refusal = "系统默认评价不能追加评价。"
    elif evaluation.follow_up is not None:
        refusal = "您已追加过评价，每条评价只能追加一次。"
    elif profile.follow_up_window is None:
        refusal = None  # no follow-up in this region: nothing to offer, nothing to explain
    else:
        until = add_duration(
            session=session, start=evaluation.rated_at, duration=profile.follow_up_window
        ).at
        if now > until:
            refusal = "追加评价的期限已过。"
    open_ = refusal is None and until is not None
    return RatingState(evaluation, open_, until, refusal)
