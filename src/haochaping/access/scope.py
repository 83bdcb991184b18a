"""The part of the catalogue tree a caller may see, and the SQL that keeps queries inside it.

A scope is a union of region subtrees (by materialised path), organisations and staff members.
Domain services take a ``Scope`` as a required argument and add these clauses to every query,
so that a caller never reads a row outside its scope whatever filters it sends (issue 3).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, Select, and_, exists, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from haochaping.cases.models import Case
from haochaping.catalog.models import Region
from haochaping.db import database_key
from haochaping.evaluations.models import Credit, Evaluation


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    # Materialised paths of the regions whose subtrees are in scope ("/450000/450200/").
    region_paths: frozenset[str] = field(default_factory=frozenset)
    org_ids: frozenset[int] = field(default_factory=frozenset)
    staff_ids: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def all(cls) -> Scope:
        return cls(everything=True)

    @classmethod
    def nothing(cls) -> Scope:
        return cls()

    @property
    def finest(self) -> str:
        """The widest kind of unit fully inside the scope: "all", "region", "org" or "staff"."""
        if self.everything:
            return "all"
        if self.region_paths:
            return "region"
        if self.org_ids:
            return "org"
        return "staff"

    # --- SQL -------------------------------------------------------------------------------

    def region_codes(self) -> Select[str]:
        """The codes of every region inside the scope's region subtrees."""
        conds = [Region.path.startswith(p, autoescape=True) for p in sorted(self.region_paths)]
        return select(Region.code).where(or_(*conds) if conds else false())

    def case_clause(self, region_codes: Sequence[str] | None = None) -> ColumnElement[bool]:
        """Cases handled inside the scope: in its regions, by its organisations, or by its
        staff (a window clerk sees only their own cases). ``region_codes``: the codes of
        ``region_codes()`` already read, sent as values so that the planner knows how many
        cases they cover (a subquery is estimated at one region when statistics are thin)."""
        if self.everything:
            return true()
        conds: list[ColumnElement[bool]] = []
        if self.region_paths:
            inside = self.region_codes() if region_codes is None else list(region_codes)
            conds.append(Case.region_code.in_(inside))
        if self.org_ids:
            conds.append(Case.org_id.in_(sorted(self.org_ids)))
        if self.staff_ids:
            conds.append(Case.staff_id.in_(sorted(self.staff_ids)))
        return or_(*conds) if conds else false()

    def units_clause(
        self,
        *,
        region_code: ColumnElement[str] | InstrumentedAttribute[str],
        org_id: ColumnElement[int] | InstrumentedAttribute[int],
        staff_id: ColumnElement[int | None] | InstrumentedAttribute[int | None],
    ) -> ColumnElement[bool]:
        """Rows placed by region, organisation and staff columns (work orders, for instance)
        that are inside the scope, by the same reading as ``case_clause``."""
        if self.everything:
            return true()
        conds: list[ColumnElement[bool]] = []
        if self.region_paths:
            conds.append(region_code.in_(self.region_codes()))
        if self.org_ids:
            conds.append(org_id.in_(sorted(self.org_ids)))
        if self.staff_ids:
            conds.append(staff_id.in_(sorted(self.staff_ids)))
        return or_(*conds) if conds else false()

    def credit_clause(self) -> ColumnElement[bool]:
        """Credits (what scores are made of) inside the scope."""
        if self.everything:
            return true()
        conds: list[ColumnElement[bool]] = []
        if self.region_paths:
            conds.append(Credit.region_code.in_(self.region_codes()))
        if self.org_ids:
            conds.append(Credit.org_id.in_(sorted(self.org_ids)))
        if self.staff_ids:
            conds.append(Credit.staff_id.in_(sorted(self.staff_ids)))
        return or_(*conds) if conds else false()

    def evaluation_clause(self) -> ColumnElement[bool]:
        """Evaluations of a case inside the scope, or of a bundle (一件事) with a case inside."""
        if self.everything:
            return true()
        inside = self.case_clause()
        return or_(
            Evaluation.case_id.in_(select(Case.id).where(inside)),
            and_(
                Evaluation.bundle_id.is_not(None),
                exists().where(Case.bundle_id == Evaluation.bundle_id, inside),
            ),
        )

    # --- single checks -------------------------------------------------------------------

    def contains_case(self, session: Session, case: Case) -> bool:
        return self.everything or bool(
            session.scalar(select(exists().where(Case.id == case.id, self.case_clause())))
        )

    def contains_org(self, session: Session, org_id: int, region_code: str) -> bool:
        """Whether an organisation's cases are inside the scope (business systems' writes)."""
        if self.everything or org_id in self.org_ids:
            return True
        return self.contains_region(session, region_code)

    def contains_units(self, session: Session, units: list[tuple[int, str]]) -> bool:
        """Whether any of (organisation id, region code) is inside the scope: a business system
        may rate a bundle when it serves one of the bundle's organisations."""
        return self.units_inside(session, [units])[0]

    def units_inside(
        self, session: Session, unit_lists: Sequence[Sequence[tuple[int, str]]]
    ) -> list[bool]:
        """``contains_units`` for many lists at once (a bulk request): the region paths of all
        of them are looked up together, from the path cache or in one query."""
        if self.everything:
            return [True] * len(unit_lists)
        paths: dict[str, str] = {}
        if self.region_paths:
            codes = {code for units in unit_lists for _, code in units}
            paths = region_paths(session, codes)
        prefixes = tuple(self.region_paths)
        return [
            any(
                org_id in self.org_ids
                or (bool(prefixes) and paths.get(code, "").startswith(prefixes))
                for org_id, code in units
            )
            for units in unit_lists
        ]

    def contains_region(self, session: Session, region_code: str) -> bool:
        if self.everything:
            return True
        if not self.region_paths:
            return False
        path = region_paths(session, {region_code}).get(region_code, "")
        return any(path.startswith(p) for p in self.region_paths)


# Region paths change only when the catalogue is re-imported: a short-lived per-process cache
# spares the hot path (every business-system write) a query per check.
PATH_CACHE_SECONDS = 60.0
_path_cache: dict[tuple[str, str], tuple[float, str]] = {}


def region_paths(session: Session, codes: set[str]) -> dict[str, str]:
    """Materialised paths of the given region codes (unknown codes are left out)."""
    database = database_key(session)
    now = time.monotonic()
    found: dict[str, str] = {}
    missing: list[str] = []
    for code in codes:
        hit = _path_cache.get((database, code))
        if hit is not None and now - hit[0] < PATH_CACHE_SECONDS:
            found[code] = hit[1]
        else:
            missing.append(code)
    if missing:
        for code, path in session.execute(
            select(Region.code, Region.path).where(Region.code.in_(missing))
        ):
            _path_cache[(database, code)] = (now, path)
            found[code] = path
    return found


def scope_of(
    session: Session,
    *,
    everything: bool = False,
    region_codes: set[str] | frozenset[str] = frozenset(),
    org_ids: set[int] | frozenset[int] = frozenset(),
    staff_ids: set[int] | frozenset[int] = frozenset(),
) -> Scope:
    """A scope from catalogue references (region codes become their paths)."""
    if everything:
        return Scope.all()
    paths = (
        frozenset(session.scalars(select(Region.path).where(Region.code.in_(region_codes))))
        if region_codes
        else frozenset()
    )
    return Scope(region_paths=paths, org_ids=frozenset(org_ids), staff_ids=frozenset(staff_ids))


def clear_path_cache() -> None:
    _path_cache.clear()
