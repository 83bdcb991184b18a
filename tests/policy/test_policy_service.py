"""P1: the profile of a region is its own, its nearest ancestor's, or national (both databases)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from haochaping.catalog.models import Region
from haochaping.errors import NotFound
from haochaping.policy.service import (
    get_profile,
    profile_for_region,
    profile_name_for_region,
)

# code, level, parent, profile
TREE = [
    ("450000", "province", None, "guangxi"),
    ("450200", "city", "450000", None),
    ("450224", "county", "450200", "rongan"),
    ("450224100000", "township", "450224", None),
    ("450225", "county", "450200", None),
    ("450225100000", "township", "450225", None),
    ("420000", "province", None, "hubei"),
    ("420100", "city", "420000", ""),
    ("370000", "province", None, None),
    ("370400", "city", "370000", "zaozhuang"),
    ("370100", "city", "370000", None),
    ("440000", "province", None, "guangdong"),
]


@pytest.fixture
def regions(session: Session) -> Session:
    paths: dict[str, str] = {}
    for code, level, parent, profile in TREE:
        paths[code] = (paths[parent] if parent else "/") + code + "/"
        session.add(
            Region(
                code=code,
                name=f"地区{code}",
                level=level,
                parent_code=parent,
                path=paths[code],
                profile=profile,
            )
        )
        session.flush()
    return session


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("450000", "guangxi"),  # own
        ("450224", "rongan"),  # own, below a province with its own
        ("450224100000", "rongan"),  # nearest ancestor wins over the province
        ("450200", "guangxi"),  # parent
        ("450225100000", "guangxi"),  # grandparent
        ("420100", "hubei"),  # an empty string is no profile
        ("370400", "zaozhuang"),
        ("370100", "national"),  # nobody up the tree names one
        ("370000", "national"),
    ],
)
def test_p1_profile_name_for_region(regions: Session, code: str, expected: str) -> None:
    assert profile_name_for_region(session=regions, region_code=code) == expected


def test_p1_profile_for_region_resolves_the_profile(regions: Session) -> None:
    profile = profile_for_region(session=regions, region_code="450225")
    assert profile.name == "guangxi"
    assert profile.default_rating is not None and profile.default_rating.level == 5
    assert profile_for_region(session=regions, region_code="440000").default_rating is None


def test_p1_unknown_region_is_not_found(regions: Session) -> None:
    with pytest.raises(NotFound) as info:
        profile_name_for_region(session=regions, region_code="999999")
    assert info.value.code == "region_not_found" and "999999" in info.value.message
    assert info.value.status_code == 404


def test_p1_get_profile_by_name() -> None:
    assert get_profile(name="hubei").default_rating is not None
    with pytest.raises(NotFound):
        get_profile(name="nowhere")
