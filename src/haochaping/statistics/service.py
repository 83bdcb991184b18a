"""Supervision statistics for one caller: tables of units, rankings, focus lists and a unit's
overview, always inside the caller's scope (issue 3) and under the profile of the region asked
about (F6 settings, labels)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.catalog.models import Organization, Region, Staff, Window
from haochaping.errors import DomainError
from haochaping.policy import service as policy
from haochaping.policy.schemas import Profile
from haochaping.statistics import metrics, rankings
from haochaping.statistics.periods import Period
from haochaping.statistics.schemas import (
    Dimension,
    FocusEntry,
    Overview,
    Ranking,
    SortKey,
    UnitMetrics,
)
from haochaping.statistics.units import (
    Unit,
    check_dimension,
    describe_unit,
    home_region,
    list_units,
    region_in_scope,
    region_unit,
)

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Selection:
    """What a dashboard question is about: the units of ``dimension`` under ``region`` (or in
    one organisation / window), over ``period``, optionally one channel only."""

    dimension: Dimension
    period: Period
    region: str | None = None
    org_id: int | None = None
    window_id: int | None = None
    channel: int | None = None


def resolve_region(session: Session, access: Scope, code: str | None) -> Region | None:
    if code:
        return region_in_scope(session, access, code)
    return home_region(session, access)


def profile_of(session: Session, access: Scope, region: Region | None) -> Profile:
    """The profile of the region asked about; for an organisation's or a clerk's own view,
    the profile of their organisation's region."""
    code = region.code if region is not None else _own_region(session, access)
    if code is None:
        return policy.get_profile(name="national")
    return policy.profile_for_region(session=session, region_code=code)


def _own_region(session: Session, access: Scope) -> str | None:
    for org_id in sorted(access.org_ids):
        org = session.get(Organization, org_id)
        if org is not None:
            return org.region_code
    for staff_id in sorted(access.staff_ids):
        staff = session.get(Staff, staff_id)
        if staff is not None:
            return session.get_one(Organization, staff.org_id).region_code
    return None


_MEMO = "statistics.one_page"


@contextlib.contextmanager
def one_page(session: Session) -> Iterator[None]:
    """Inside the block the units of a selection and their sums are read once: a dashboard
    page asks for the same ones in several sections (a ranking and a focus list of the same
    organisations). For reading only: nothing written inside the block is seen by a
    question asked again."""
    session.info[_MEMO] = {}
    try:
        yield
    finally:
        session.info.pop(_MEMO, None)


def _remembered(session: Session, key: tuple[Any, ...], compute: Callable[[], R]) -> R:
    memo: dict[tuple[Any, ...], Any] | None = session.info.get(_MEMO)
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return cast(R, memo[key])


def _sums(
    session: Session,
    access: Scope,
    selection: Selection,
    units: list[Unit],
    months: Sequence[int],
    *,
    low_levels: int,
    per_month: bool = False,
) -> dict[tuple[str, int], metrics.Light]:
    """``metrics.light_sums`` of the selection's units (remembered inside ``one_page``)."""
    return _remembered(
        session,
        ("sums", access, selection, tuple(months), low_levels, per_month),
        lambda: metrics.light_sums(
            session,
            selection.dimension,
            [u.key for u in units],
            months,
            low_levels=low_levels,
            per_month=per_month,
            channel=selection.channel,
        ),
    )


def units_of(session: Session, access: Scope, selection: Selection) -> list[Unit]:
    """The units a selection is about (remembered inside ``one_page``)."""
    found = _remembered(
        session, ("units", access, selection), lambda: _units_of(session, access, selection)
    )
    return list(found)


def _units_of(session: Session, access: Scope, selection: Selection) -> list[Unit]:
    check_dimension(access, selection.dimension)
    region = None
    if selection.org_id is None and selection.window_id is None:
        region = resolve_region(session, access, selection.region)
    org_id = selection.org_id
    if selection.window_id is not None and org_id is None:
        window = session.get(Window, selection.window_id)
        org_id = window.org_id if window is not None else -1
    if selection.dimension in (Dimension.region, Dimension.line, Dimension.item) and (
        region is None
    ):
        region = resolve_region(session, access, selection.region)
    return list_units(
        session,
        access,
        selection.dimension,
        region=region,
        org_id=org_id,
        window_id=selection.window_id,
    )


def table(session: Session, access: Scope, selection: Selection) -> list[UnitMetrics]:
    """Metrics of every unit of the selection (zero rows included: a unit nobody rated is
    news too). For exports; a dashboard reads one page (``table_page``)."""
    units = units_of(session, access, selection)
    return _metrics(session, access, selection, units)


@dataclass(frozen=True)
class Paging:
    """One page of a table: ``size`` None means every row."""

    page: int = 1
    size: int | None = None
    sort: SortKey = "code"
    descending: bool = False

    def cut(self, rows: Sequence[T]) -> list[T]:
        if self.size is None:
            return list(rows)
        start = (self.page - 1) * self.size
        return list(rows[start : start + self.size])


def table_page(
    session: Session, access: Scope, selection: Selection, paging: Paging
) -> tuple[int, list[UnitMetrics]]:
    """The number of units of the selection and the metrics of one page of them, sorted on
    sums the database adds up for every unit; full metrics are built for the page only (a
    city's ~2,000 service items)."""
    units = units_of(session, access, selection)
    if paging.sort != "code":
        value = _sort_values(session, selection, units, paging.sort)
        units = sorted(units, key=lambda u: (_missing(value.get(u.key)), u.code))
    else:
        units = sorted(units, key=lambda u: u.code)
    if paging.descending:
        units.reverse()
    return len(units), _metrics(session, access, selection, paging.cut(units))


def _missing(value: float | None) -> float:
    return -1.0 if value is None else value


def _sort_values(
    session: Session, selection: Selection, units: list[Unit], sort: SortKey
) -> dict[str, float | None]:
    keys = [u.key for u in units]
    if sort == "overdue":
        tallies = metrics.work_order_tallies(session, selection.dimension, keys, selection.period)
        overdue: dict[str, float | None] = {key: 0.0 for key in keys}
        overdue.update((key, float(t.overdue)) for key, t in tallies.items())
        return overdue
    sums = metrics.light_sums(
        session,
        selection.dimension,
        keys,
        selection.period.months,
        low_levels=1,
        channel=selection.channel,
    )
    value = _SORT_VALUES[sort]
    return {key: value(sums.get((key, 0), metrics.NO_SUMS)) for key in keys}


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


_SORT_VALUES: dict[str, Callable[[metrics.Light], float | None]] = {
    "evaluations": lambda s: float(s.evaluations),
    "average": lambda s: s.average,
    "bad_rate": lambda s: _share(s.bad, s.evaluations),
    "active_rate": lambda s: _share(s.active, s.evaluations),
    "coverage": lambda s: _share(s.active, s.evaluations + s.expired),
}


def _metrics(
    session: Session, access: Scope, selection: Selection, units: list[Unit]
) -> list[UnitMetrics]:
    profile = profile_of(session, access, _region_of(session, access, selection))
    return metrics.unit_metrics(
        session,
        units,
        selection.period,
        focus_max_level=profile.supervision.focus_max_level,
        channel=selection.channel,
    )


def _region_of(session: Session, access: Scope, selection: Selection) -> Region | None:
    # A role without the dimension is refused as such before its region is looked at.
    check_dimension(access, selection.dimension)
    if selection.org_id is not None or selection.window_id is not None:
        return None
    return resolve_region(session, access, selection.region)


def ranking(
    session: Session,
    access: Scope,
    selection: Selection,
    *,
    paging: Paging | None = None,
    only: Collection[str] | None = None,
) -> Ranking:
    """Every unit's place in its group (F6, G2), ordered by group and rank. Standings come
    from sums of every unit; full metrics are built for the rows returned: one page
    (``paging``), or the units named in ``only``."""
    region = _region_of(session, access, selection)
    supervision = profile_of(session, access, region).supervision
    units = units_of(session, access, selection)
    sums = _sums(
        session,
        access,
        selection,
        units,
        selection.period.months,
        low_levels=supervision.focus_max_level,
    )
    found = rankings.standings(_light(units, sums, 0, keep_empty=True), supervision)
    ordered = sorted(units, key=lambda u: rankings.order_key(u.group, u.code, found[u.key]))
    if only is not None:
        ordered = [u for u in ordered if u.key in only]
    paging = paging or Paging()
    rows = _metrics(session, access, selection, paging.cut(ordered))
    return Ranking(
        dimension=selection.dimension,
        period=selection.period.code,
        period_label=selection.period.label,
        region=region.code if region is not None else "",
        min_evaluations=supervision.ranking_min_evaluations,
        prior_weight=supervision.ranking_prior_weight,
        explanation=rankings.explanation(supervision),
        total=len(ordered),
        page=paging.page,
        items=[rankings.ranked(row, found[row.key]) for row in rows],
    )


@dataclass(frozen=True, slots=True)
class _Light:
    """What rankings and focus lists read of a unit (thousands of staff on a province's
    page: no full metrics for each)."""

    key: str
    code: str
    name: str
    group: str
    evaluations: int
    transactions: int
    average: float | None
    low: int

    @property
    def low_share(self) -> float | None:
        return self.low / self.evaluations if self.evaluations else None


def _light(
    units: list[Unit],
    sums: dict[tuple[str, int], metrics.Light],
    month: int,
    *,
    keep_empty: bool = False,
) -> list[_Light]:
    rows = []
    for u in units:
        found = sums.get((u.key, month), metrics.NO_SUMS)
        if not found.evaluations and not keep_empty:
            continue
        rows.append(
            _Light(
                u.key,
                u.code,
                u.name,
                u.group,
                found.evaluations,
                found.transactions,
                found.average,
                found.low,
            )
        )
    return rows


def focus(session: Session, access: Scope, selection: Selection) -> list[FocusEntry]:
    """F6 focus objects of the selection: concentrated ≤ 基本满意 ratings in the period, and
    the bottom N of a group in each of the last K months of the period."""
    region = _region_of(session, access, selection)
    supervision = profile_of(session, access, region).supervision
    units = units_of(session, access, selection)
    level = supervision.focus_max_level
    whole = _sums(session, access, selection, units, selection.period.months, low_levels=level)
    rows = _light(units, whole, 0)
    entries = [
        FocusEntry(
            dimension=selection.dimension,
            key=r.key,
            code=r.code,
            name=r.name,
            reason="concentrated_low",
            detail=(
                f"基本满意及以下评价占 {(r.low_share or 0) * 100:.1f}%"
                f"（{r.low}/{r.evaluations}），达到 {supervision.focus_share * 100:.0f}% 的关注线"
            ),
            evaluations=r.evaluations,
            average=r.average,
            low_share=r.low_share,
        )
        for r in rankings.concentrated_low(rows, supervision)
    ]
    last = Period(selection.period.last, selection.period.last, "")
    months = [
        (last.previous(back) if back else last).first for back in range(supervision.bottom_periods)
    ]
    monthly_sums = _sums(
        session, access, selection, units, months, low_levels=level, per_month=True
    )
    streak: set[str] | None = None
    latest: dict[str, _Light] = {}
    latest_standing: dict[str, rankings.Standing] = {}
    for back, month in enumerate(months):
        monthly = _light(units, monthly_sums, month)
        found = rankings.standings(monthly, supervision)
        if back == 0:
            latest, latest_standing = {r.key: r for r in monthly}, found
        keys_bottom = rankings.bottom(found, supervision.bottom_n)
        streak = keys_bottom if streak is None else streak & keys_bottom
        if not streak:
            break
    for key in sorted(streak or ()):
        r, standing = latest[key], latest_standing[key]
        entries.append(
            FocusEntry(
                dimension=selection.dimension,
                key=r.key,
                code=r.code,
                name=r.name,
                reason="bottom_consecutive",
                detail=(
                    f"连续 {supervision.bottom_periods} 个月处于本组（{r.group or '全部'}）"
                    f"后 {supervision.bottom_n} 名，本月第 {standing.rank}/{standing.group_size} 名"
                ),
                evaluations=r.evaluations,
                average=r.average,
                low_share=r.low_share,
            )
        )
    return entries


def overview_unit(session: Session, access: Scope, dimension: Dimension, key: str | None) -> Unit:
    """The unit named by ``key``, or the caller's own region when none is named."""
    if key is not None:
        return describe_unit(session, access, dimension, key)
    if dimension is not Dimension.region:
        raise DomainError("unit_required", "请指定统计单元", status_code=422)
    region = home_region(session, access)
    if region is None:
        raise DomainError("dimension_out_of_scope", "您的授权范围不包含地区统计", status_code=403)
    return region_unit(region)


def overview(
    session: Session,
    access: Scope,
    dimension: Dimension,
    key: str | None,
    period: Period,
    *,
    channel: int | None = None,
) -> Overview:
    """One unit: its metrics, daily trend, channels and label shares."""
    unit = overview_unit(session, access, dimension, key)
    region_for_profile = (
        session.get(Region, unit.key.partition(":")[0])
        if dimension in (Dimension.region, Dimension.line, Dimension.item)
        else None
    )
    profile = profile_of(session, access, region_for_profile)
    [row] = metrics.unit_metrics(
        session,
        [unit],
        period,
        focus_max_level=profile.supervision.focus_max_level,
        channel=channel,
    )
    return Overview(
        unit=row,
        period=period.code,
        period_label=period.label,
        trend=metrics.trend(session, unit, period.start, period.end),
        channels=metrics.channel_shares(session, unit, period),
        labels=metrics.label_shares(session, unit, period, profile.labels),
    )
