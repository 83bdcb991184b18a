"""Deriving the occasions a case or bundle may be rated on, with their windows (C1-C4, C7, C8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from haochaping.calendar.service import WorkCalendar
from haochaping.cases.models import Case, Stage
from haochaping.catalog.models import Handling, ItemKind
from haochaping.policy.schemas import Profile

DEFAULT_KIND = "occasion.default"
CLOSE_KIND = "occasion.close"
# C5: the SMS reminder of an occasion still unrated after the profile's reminder_delay
# (sent by channels.sms).
REMINDER_KIND = "occasion.sms_reminder"
# The occasions a reminder is about: those that open at completion (C5 "办结后").
REMINDER_STAGES = frozenset({Stage.complete.value, Stage.overall.value})


@dataclass(frozen=True)
class PlannedOccasion:
    stage: Stage
    opens_at: datetime
    rates_staff: bool
    on_site: bool
    credited: bool


@dataclass(frozen=True)
class RatingWindow:
    rate_until: datetime
    default_due: datetime | None
    estimated: bool


def work_calendar(session: Session) -> WorkCalendar:
    """One calendar per session: loading it is a query, and a batch of cases shares it."""
    cal = session.info.get("work_calendar")
    if not isinstance(cal, WorkCalendar):
        cal = WorkCalendar.load(session)
        session.info["work_calendar"] = cal
    return cal


def plan_case(case: Case) -> list[PlannedOccasion]:
    """C1: 即办件 one occasion, 承诺件 at acceptance and at completion; B5/C3: window handling
    rates staff and item, online and terminal handling the item only."""
    on_site = case.handling != Handling.online.value
    rates_staff = case.handling == Handling.window.value and case.staff_id is not None
    planned: list[PlannedOccasion] = []
    if case.kind == ItemKind.immediate.value:
        when = case.completed_at or case.accepted_at
        if when is not None:
            planned.append(PlannedOccasion(Stage.complete, when, rates_staff, on_site, True))
        return planned
    if case.accepted_at is not None:
        planned.append(PlannedOccasion(Stage.accept, case.accepted_at, rates_staff, on_site, True))
    if case.completed_at is not None:
        planned.append(
            PlannedOccasion(Stage.complete, case.completed_at, rates_staff, on_site, True)
        )
    return planned


def plan_bundle(members: list[Case]) -> list[PlannedOccasion]:
    """C2: a bundle has 受理, 审批, 出件 stage occasions and one overall occasion. A stage opens
    when every member has reached it (受理: when the first member is accepted); only the
    overall score is credited to the organisations and regions involved (GX Art.10)."""
    if not members:
        return []
    on_site = any(m.handling != Handling.online.value for m in members)
    planned: list[PlannedOccasion] = []
    accepted = [m.accepted_at for m in members if m.accepted_at is not None]
    if accepted:
        planned.append(PlannedOccasion(Stage.accept, min(accepted), False, on_site, False))
    for stage, attr in (
        (Stage.approve, "approved_at"),
        (Stage.deliver, "delivered_at"),
        (Stage.overall, "completed_at"),
    ):
        times: list[datetime | None] = [getattr(m, attr) for m in members]
        if all(t is not None for t in times):
            opens = max(t for t in times if t is not None)
            planned.append(PlannedOccasion(stage, opens, False, on_site, stage == Stage.overall))
    return planned


def rating_window(
    *, calendar: WorkCalendar, profile: Profile, opens_at: datetime, on_site: bool
) -> RatingWindow:
    """How long an occasion may be rated, and when silence becomes a default (C7, C8).

    The occasion may be rated until the earliest of the limits that apply: the default delay
    (C7: the default closes the occasion) and, for on-site handling, the supplementary window
    (C8: a late on-site rating only within it); with neither, the profile's ``rating_window``.
    The default, if the profile gives one, is written when its delay ends.
    """
    limits = []
    default_end = None
    if profile.default_rating is not None:
        default_end = calendar.add(opens_at, profile.default_rating.delay)
        limits.append(default_end)
    if on_site and profile.supplementary_window is not None:
        limits.append(calendar.add(opens_at, profile.supplementary_window))
    if not limits:
        limits.append(calendar.add(opens_at, profile.rating_window))
    earliest = min(limits, key=lambda due: due.at)
    return RatingWindow(
        rate_until=earliest.at,
        default_due=default_end.at if default_end is not None else None,
        estimated=any(due.estimated for due in limits),
    )


def reminder_due(
    *,
    calendar: WorkCalendar,
    profile: Profile,
    stage: str,
    opens_at: datetime,
    rate_until: datetime,
) -> datetime | None:
    """C5: when the SMS reminder of an occasion is due, or None (no reminder under the profile,
    not a completion occasion, or due only after the occasion closes)."""
    if profile.reminder_delay is None or stage not in REMINDER_STAGES:
        return None
    due = calendar.add(opens_at, profile.reminder_delay).at
    return due if due < rate_until else None
