"""A3-A5: looking catalogue rows up by code, and walking the region tree."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from haochaping.catalog import service
from haochaping.catalog.importer import import_catalogue
from haochaping.errors import NotFound
from tests.catalog.catalog_helpers import EXAMPLE


@pytest.fixture
def catalog(session: Session) -> Session:
    import_catalogue(session=session, path=EXAMPLE)
    return session


def test_lookups_by_code(catalog: Session) -> None:
    assert service.get_region(session=catalog, code="450224").name == "融安县"
    assert service.get_hall(session=catalog, code="450224-BDC").name == "融安县不动产登记分中心"
    assert service.get_line(session=catalog, code="SCJG").name == "市场监管"
    org = service.get_org(session=catalog, code="450224-GA")
    assert org.name == "融安县公安局" and org.region_code == "450224"
    item = service.get_item(session=catalog, code="450224-GA-0001")
    assert item.name == "居民身份证换领" and item.org_id == org.id
    window = service.get_window(session=catalog, code="450224-ZWZX-01")
    assert window.org_id == org.id
    staff = service.get_staff(session=catalog, code="RA0001")
    assert staff.name == "韦丽萍" and staff.window_id == window.id


@pytest.mark.parametrize(
    ("lookup", "code"),
    [
        (service.get_region, "region_not_found"),
        (service.get_hall, "hall_not_found"),
        (service.get_line, "line_not_found"),
        (service.get_org, "org_not_found"),
        (service.get_item, "item_not_found"),
        (service.get_window, "window_not_found"),
        (service.get_staff, "staff_not_found"),
    ],
)
def test_unknown_codes_are_not_found(
    catalog: Session, lookup: Callable[..., Any], code: str
) -> None:
    with pytest.raises(NotFound) as caught:
        lookup(session=catalog, code="999999")
    assert caught.value.code == code
    assert "999999" in caught.value.message and caught.value.status_code == 404


def test_subtree_codes_lists_the_region_and_everything_below(catalog: Session) -> None:
    assert service.subtree_codes(session=catalog, code="450224") == [
        "450224",
        "450224100000",
        "450224101000",
    ]
    assert len(service.subtree_codes(session=catalog, code="450000")) == 5
    assert service.subtree_codes(session=catalog, code="450224100000") == ["450224100000"]
    with pytest.raises(NotFound):
        service.subtree_codes(session=catalog, code="110000")


def test_ancestors_root_first_ending_with_the_region(catalog: Session) -> None:
    chain = service.ancestors(session=catalog, code="450224100000")
    assert [r.code for r in chain] == ["450000", "450200", "450224", "450224100000"]
    assert [r.profile for r in chain] == ["guangxi", None, "rongan", None]
    assert [r.code for r in service.ancestors(session=catalog, code="450000")] == ["450000"]
