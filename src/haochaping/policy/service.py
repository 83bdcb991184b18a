"""Which policy profile applies (P1): by name, or by region through the region tree."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.catalog.models import Region
from haochaping.errors import NotFound
from haochaping.policy.loader import available_profiles, load_profile
from haochaping.policy.schemas import Profile

# The root profile: what a region uses when neither it nor any ancestor names one.
ROOT_PROFILE = "national"


def get_profile(*, name: str) -> Profile:
    """The resolved profile ``name`` (P1); ``PolicyError`` if invalid, ``NotFound`` if absent."""
    return load_profile(name)


def profile_name_for_region(*, session: Session, region_code: str) -> str:
    """P1: the region's own profile, else its nearest ancestor's, else ``national``."""
    region = session.get(Region, region_code)
    if region is None:
        raise NotFound(
            "region_not_found",
            f"行政区划 {region_code} 不存在",
            details={"region_code": region_code},
        )
    if region.profile:
        return region.profile
    # The materialised path "/450000/450200/450224/" lists the ancestors root first.
    ancestors = [code for code in region.path.strip("/").split("/") if code and code != region.code]
    if not ancestors:
        return ROOT_PROFILE
    rows = session.execute(
        select(Region.code, Region.profile).where(
            Region.code.in_(ancestors), Region.profile.is_not(None), Region.profile != ""
        )
    ).all()
    named = {code: profile for code, profile in rows if profile}
    for code in reversed(ancestors):  # nearest first
        if code in named:
            return named[code]
    return ROOT_PROFILE


def profile_for_region(*, session: Session, region_code: str) -> Profile:
    """P1: the resolved profile that applies in ``region_code``."""
    return get_profile(name=profile_name_for_region(session=session, region_code=region_code))


def profile_names() -> list[str]:
    """Names of the profiles that can be used (P1)."""
    return available_profiles()
