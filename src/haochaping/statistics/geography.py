"""The regions' ancestors, read once per fold or question: a region counts its sub-regions,
business lines and items are counted per region of county level or above."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.catalog.models import Region, RegionLevel

# Regions that business lines and items are broken down by (the others read their county).
_LINE_LEVELS = frozenset(
    {RegionLevel.province.value, RegionLevel.city.value, RegionLevel.county.value}
)


class Geography:
    """Ancestors of every region (itself included), read once per fold."""

    def __init__(self, regions: Iterable[tuple[str, str, str]]) -> None:
        self.levels: dict[str, str] = {}
        self.ancestors: dict[str, list[str]] = {}
        paths: dict[str, str] = {}
        for code, level, path in regions:
            self.levels[code], paths[code] = level, path
        for code, path in paths.items():
            chain = [c for c in path.strip("/").split("/") if c]
            if code not in chain:
                chain.append(code)
            self.ancestors[code] = chain
        self.upper = {
            code: [c for c in chain if self.levels.get(c) in _LINE_LEVELS]
            for code, chain in self.ancestors.items()
        }

    @classmethod
    def load(cls, session: Session) -> Geography:
        return cls(session.execute(select(Region.code, Region.level, Region.path)))
