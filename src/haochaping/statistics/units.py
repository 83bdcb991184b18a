"""Which units a question is about, inside the caller's scope, with their names and the group
they are ranked in (issue 6: regions of the same level, organisations of the same level and
business line, staff and windows of the same line)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Executable, or_, select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.catalog.models import (
    BusinessLine,
    Organization,
    Region,
    RegionLevel,
    ServiceItem,
    Staff,
    Window,
)
from haochaping.errors import DomainError, NotFound
from haochaping.statistics.rollup import unit_key
from haochaping.statistics.schemas import Dimension

LEVEL_NAMES = {
    RegionLevel.province.value: "省级",
    RegionLevel.city.value: "市级",
    RegionLevel.county.value: "县级",
    RegionLevel.township.value: "乡镇级",
    RegionLevel.village.value: "村级",
}
_UPPER = (RegionLevel.province.value, RegionLevel.city.value, RegionLevel.county.value)

ALLOWED: dict[str, frozenset[Dimension]] = {
    "all": frozenset(Dimension),
    "region": frozenset(Dimension),
    "org": frozenset({Dimension.org, Dimension.window, Dimension.staff}),
    "staff": frozenset({Dimension.staff}),
}


@dataclass(frozen=True, slots=True)
class Unit:
    dimension: Dimension
    key: str
    code: str
    name: str
    group: str
    level: str | None = None


def check_dimension(access: Scope, dimension: Dimension) -> None:
    if dimension not in ALLOWED[access.finest]:
        raise DomainError(
            "dimension_out_of_scope",
            "您的授权范围不包含该统计维度",
            details={"allowed": sorted(d.value for d in ALLOWED[access.finest])},
            status_code=403,
        )


def home_region(session: Session, access: Scope) -> Region | None:
    """The region a dashboard opens on: the caller's own (the widest of them), or the root."""
    if access.everything:
        return session.scalars(
            select(Region).where(Region.parent_code.is_(None)).order_by(Region.code)
        ).first()
    if not access.region_paths:
        return None
    path = min(access.region_paths, key=lambda p: (p.count("/"), p))
    code = [c for c in path.strip("/").split("/") if c][-1]
    return session.get(Region, code)


def region_in_scope(session: Session, access: Scope, code: str) -> Region:
    region = session.get(Region, code)
    if region is None:
        raise NotFound("region_not_found", "未找到该行政区划", details={"code": code})
    if not access.everything and not any(region.path.startswith(p) for p in access.region_paths):
        raise DomainError(
            "out_of_scope",
            "该地区不在您的授权范围内",
            details={"code": code},
            status_code=403,
        )
    return region


def line_region(session: Session, region: Region) -> Region:
    """Lines and items are counted per region of county level or above: a township reads its
    county's figures."""
    while region.level not in _UPPER and region.parent_code is not None:
        region = session.get_one(Region, region.parent_code)
    return region


def _subtree(session: Session, region: Region) -> list[str]:
    return list(session.scalars(select(Region.code).where(Region.path.startswith(region.path))))


def list_units(
    session: Session,
    access: Scope,
    dimension: Dimension,
    *,
    region: Region | None,
    org_id: int | None = None,
    window_id: int | None = None,
) -> list[Unit]:
    """The units of ``dimension`` under ``region`` (direct sub-regions for the region
    dimension) or inside one organisation or window, limited to what ``access`` may see."""
    check_dimension(access, dimension)
    if dimension is Dimension.region:
        if region is None:
            return []
        rows = session.scalars(
            select(Region).where(Region.parent_code == region.code).order_by(Region.code)
        )
        return [_region_unit(r) for r in rows]
    if dimension in (Dimension.line, Dimension.item):
        if region is None:
            return []
        return _line_or_item_units(session, dimension, line_region(session, region))
    # Columns, not ORM objects: a province's page lists thousands of staff.
    orgs = _orgs(session, access, region, org_id)
    lines = dict(_rows(session, select(BusinessLine.id, BusinessLine.name)))
    line_of = {o.id: _line_name(o.line_id, lines) for o in orgs}
    if dimension is Dimension.org:
        levels = _levels(session)
        return [
            Unit(
                dimension,
                str(o.id),
                o.code,
                o.name,
                f"{LEVEL_NAMES.get(levels.get(o.region_code, ''), '')}·{line_of[o.id]}",
            )
            for o in orgs
        ]
    if dimension is Dimension.window:
        query = (
            select(Window.id, Window.code, Window.name, Window.org_id)
            .where(Window.org_id.in_(list(line_of)))
            .order_by(Window.code)
        )
        if window_id is not None:
            query = query.where(Window.id == window_id)
        return [
            Unit(dimension, str(w.id), w.code, w.name, line_of[w.org_id])
            for w in _rows(session, query)
        ]
    query_staff = (
        select(Staff.id, Staff.code, Staff.name, Staff.org_id)
        .where(Staff.org_id.in_(list(line_of)))
        .order_by(Staff.code)
    )
    if window_id is not None:
        query_staff = query_staff.where(Staff.window_id == window_id)
    if not access.everything and not access.region_paths and not access.org_ids:
        query_staff = query_staff.where(Staff.id.in_(sorted(access.staff_ids)))
    return [
        Unit(dimension, str(s.id), s.code, s.name, line_of[s.org_id])
        for s in _rows(session, query_staff)
    ]


def _rows(session: Session, query: Executable) -> list[Any]:
    """Core rows fetched at once: no ORM row loading, no fetch per row (thousands of staff)."""
    return list(session.connection().execute(query).all())


def _region_unit(region: Region) -> Unit:
    return Unit(
        Dimension.region,
        region.code,
        region.code,
        region.name,
        LEVEL_NAMES.get(region.level, region.level),
        region.level,
    )


def region_unit(region: Region) -> Unit:
    return _region_unit(region)


def _levels(session: Session) -> dict[str, str]:
    return dict(_rows(session, select(Region.code, Region.level)))


def _line_name(line_id: int | None, lines: dict[int, str]) -> str:
    return lines.get(line_id, "综合") if line_id is not None else "综合"


def _orgs(session: Session, access: Scope, region: Region | None, org_id: int | None) -> list[Any]:
    """Id, code, name, line and region of the organisations asked about, inside ``access``."""
    query = select(
        Organization.id,
        Organization.code,
        Organization.name,
        Organization.line_id,
        Organization.region_code,
    ).order_by(Organization.code)
    if org_id is not None:
        query = query.where(Organization.id == org_id)
    elif region is not None:
        query = query.where(Organization.region_code.in_(_subtree(session, region)))
    if not access.everything:
        allowed = []
        if access.region_paths:
            allowed.append(Organization.region_code.in_(access.region_codes()))
        if access.org_ids:
            allowed.append(Organization.id.in_(sorted(access.org_ids)))
        if access.staff_ids:
            owners = select(Staff.org_id).where(Staff.id.in_(sorted(access.staff_ids)))
            allowed.append(Organization.id.in_(owners))
        query = query.where(or_(*allowed))
    orgs = _rows(session, query)
    if org_id is not None and not orgs:
        raise NotFound("org_not_found", "未找到该部门或不在您的授权范围内", details={"id": org_id})
    return orgs


def _line_or_item_units(session: Session, dimension: Dimension, region: Region) -> list[Unit]:
    if dimension is Dimension.line:
        lines = session.scalars(select(BusinessLine).order_by(BusinessLine.code))
        return [
            Unit(dimension, unit_key("line", line.id, region.code), line.code, line.name, "")
            for line in lines
        ]
    # A city has ~2,000 items.
    items = _rows(
        session,
        select(ServiceItem.id, ServiceItem.code, ServiceItem.name, ServiceItem.kind)
        .join(Organization, Organization.id == ServiceItem.org_id)
        .where(Organization.region_code.in_(_subtree(session, region)))
        .order_by(ServiceItem.code),
    )
    kinds = {"immediate": "即办件", "promised": "承诺件"}
    return [
        Unit(dimension, unit_key("item", i, region.code), code, name, kinds.get(kind, kind))
        for i, code, name, kind in items
    ]


def describe_unit(session: Session, access: Scope, dimension: Dimension, key: str) -> Unit:
    """One unit by its key, refused when it is outside the caller's scope."""
    check_dimension(access, dimension)
    if dimension is Dimension.region:
        return _region_unit(region_in_scope(session, access, key))
    if dimension in (Dimension.line, Dimension.item):
        region = region_in_scope(session, access, key.partition(":")[0])
        for unit in _line_or_item_units(session, dimension, region):
            if unit.key == key:
                return unit
        raise NotFound("unit_not_found", "未找到该统计单元", details={"key": key})
    if not key.isdigit():
        raise NotFound("unit_not_found", "未找到该统计单元", details={"key": key})
    number = int(key)
    if dimension is Dimension.org:
        units = list_units(session, access, dimension, region=None, org_id=number)
    elif dimension is Dimension.window:
        window = session.get(Window, number)
        if window is None:
            raise NotFound("unit_not_found", "未找到该统计单元", details={"key": key})
        units = list_units(
            session, access, dimension, region=None, org_id=window.org_id, window_id=number
        )
    else:
        staff = session.get(Staff, number)
        if staff is None:
            raise NotFound("unit_not_found", "未找到该统计单元", details={"key": key})
        units = [
            u
            for u in list_units(session, access, dimension, region=None, org_id=staff.org_id)
            if u.key == key
        ]
    if not units:
        raise NotFound(
            "unit_not_found", "未找到该统计单元或不在您的授权范围内", details={"key": key}
        )
    return units[0]
