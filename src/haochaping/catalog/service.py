"""Read-side lookups of the catalogue (A2-A5), by code; a missing code is a ``NotFound``."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.catalog.models import (
    BusinessLine,
    Hall,
    Organization,
    Region,
    ServiceItem,
    Staff,
    Window,
)
from haochaping.errors import NotFound

_T = TypeVar("_T")


def _found(obj: _T | None, error: str, label: str, code: str) -> _T:
    if obj is None:
        raise NotFound(error, f"未找到{label}“{code}”")
    return obj


def get_region(*, session: Session, code: str) -> Region:
    """The region with this GB/T 2260 code."""
    return _found(session.get(Region, code), "region_not_found", "行政区划", code)


def get_hall(*, session: Session, code: str) -> Hall:
    """The service centre or sub-centre (分中心) with this code."""
    hall = session.scalars(select(Hall).where(Hall.code == code)).one_or_none()
    return _found(hall, "hall_not_found", "大厅", code)


def get_line(*, session: Session, code: str) -> BusinessLine:
    """The business line with this code."""
    line = session.scalars(select(BusinessLine).where(BusinessLine.code == code)).one_or_none()
    return _found(line, "line_not_found", "业务条线", code)


def get_org(*, session: Session, code: str) -> Organization:
    """The service organisation with this code."""
    org = session.scalars(select(Organization).where(Organization.code == code)).one_or_none()
    return _found(org, "org_not_found", "机构", code)


def get_item(*, session: Session, code: str) -> ServiceItem:
    """The service item with this code."""
    item = session.scalars(select(ServiceItem).where(ServiceItem.code == code)).one_or_none()
    return _found(item, "item_not_found", "事项", code)


def get_window(*, session: Session, code: str) -> Window:
    """The window with this code."""
    window = session.scalars(select(Window).where(Window.code == code)).one_or_none()
    return _found(window, "window_not_found", "窗口", code)


def get_staff(*, session: Session, code: str) -> Staff:
    """The window staff member with this staff number."""
    staff = session.scalars(select(Staff).where(Staff.code == code)).one_or_none()
    return _found(staff, "staff_not_found", "人员", code)


def subtree_codes(*, session: Session, code: str) -> list[str]:
    """The region's code and the codes of all regions below it, parents before children."""
    region = get_region(session=session, code=code)
    query = (
        select(Region.code)
        .where(Region.path.startswith(region.path, autoescape=True))
        .order_by(Region.path)
    )
    return list(session.scalars(query))


def ancestors(*, session: Session, code: str) -> list[Region]:
    """The region and its ancestors, root first and the region itself last."""
    region = get_region(session=session, code=code)
    codes = [part for part in region.path.split("/") if part]
    found = {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(codes)))}
    return [found[c] for c in codes if c in found]


def get_org_by_id(*, session: Session, org_id: int) -> Organization:
    """The organisation behind an id stored on a case or credit."""
    return _found(session.get(Organization, org_id), "org_not_found", "机构", str(org_id))


def codes_for_case(
    *,
    session: Session,
    item_id: int,
    org_id: int,
    hall_id: int | None,
    window_id: int | None,
    staff_id: int | None,
) -> dict[str, str | None]:
    """The public codes of the catalogue rows a case points to."""
    pairs: list[tuple[str, type[Any], int | None]] = [
        ("item", ServiceItem, item_id),
        ("org", Organization, org_id),
        ("hall", Hall, hall_id),
        ("window", Window, window_id),
        ("staff", Staff, staff_id),
    ]
    out: dict[str, str | None] = {}
    for name, model, ident in pairs:
        row = session.get(model, ident) if ident is not None else None
        out[name] = row.code if row is not None else None
    return out
