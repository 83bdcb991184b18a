"""B2 scores: each unit's result is the average over the evaluations themselves, never an
average of averages. Reads the evaluation credits and the catalogue; writes nothing."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from haochaping.access.scope import Scope
from haochaping.catalog.models import BusinessLine, Organization, Region, ServiceItem, Staff
from haochaping.errors import DomainError, NotFound
from haochaping.evaluations.models import Credit
from haochaping.scores.schemas import Dimension, ScoreRow, Tally


@dataclass
class _Sum:
    evaluations: int = 0
    transactions: int = 0
    points: float = 0.0

    def add(self, evaluations: int, transactions: int, points: float) -> None:
        self.evaluations += evaluations
        self.transactions += transactions
        self.points += points

    def tally(self) -> Tally:
        average = self.points / self.transactions if self.transactions else None
        return Tally(evaluations=self.evaluations, transactions=self.transactions, average=average)


@dataclass
class _Unit:
    active: _Sum = field(default_factory=_Sum)
    default: _Sum = field(default_factory=_Sum)

    def part(self, is_default: bool) -> _Sum:
        return self.default if is_default else self.active


_KEYS: dict[Dimension, InstrumentedAttribute[Any]] = {
    Dimension.staff: Credit.staff_id,
    Dimension.org: Credit.org_id,
    Dimension.line: Credit.line_id,
    Dimension.region: Credit.region_code,
    Dimension.item: Credit.item_id,
}


def compute_scores(
    *,
    session: Session,
    dimension: Dimension,
    date_from: datetime | None = None,
    date_to: datetime | None = None,
    region_code: str | None = None,
    access: Scope,
) -> list[ScoreRow]:
    """Scores of every unit of ``dimension`` with evaluations in [from, to), optionally
    within one region's subtree. A region's result includes its sub-regions (B2).

    Only credits inside the caller's scope (``access``) count, and only dimensions the scope covers
    whole may be asked for: an organisation's manager cannot compute a region's score from
    the part of it they see (issue 3)."""
    allowed = DIMENSIONS_BY_SCOPE[access.finest]
    if dimension not in allowed:
        raise DomainError(
            "dimension_out_of_scope",
            "您的授权范围不包含该统计维度",
            details={"allowed": sorted(d.value for d in allowed)},
            status_code=403,
        )
    regions = {r.code: r for r in session.scalars(select(Region))}
    scope: set[str] | None = None
    if region_code is not None:
        if region_code not in regions:
            raise NotFound("region_not_found", "未找到该行政区划", details={"code": region_code})
        scope = {c for c, r in regions.items() if r.path.startswith(regions[region_code].path)}
    key = _KEYS[dimension]
    # An evaluation revoked by an upheld appeal (F1-F5) counts for nothing.
    conds: list[ColumnElement[bool]] = [key.is_not(None), Credit.revoked.is_(False)]
    if dimension is Dimension.staff:
        conds.append(Credit.staff_id.is_not(None))
    elif dimension is not Dimension.item:
        # GX Art.4: only direct evaluations of staff count for the units, per profile.
        conds.append(Credit.counts_for_units.is_(True))
    if date_from is not None:
        conds.append(Credit.rated_at >= date_from)
    if date_to is not None:
        conds.append(Credit.rated_at < date_to)
    if scope is not None:
        conds.append(Credit.region_code.in_(scope))
    if not access.everything:
        conds.append(access.credit_clause())

    units: dict[Any, _Unit] = defaultdict(_Unit)
    ancestors = _ancestor_map(regions) if dimension is Dimension.region else None

    grouped = session.execute(
        select(
            key,
            Credit.is_default,
            func.count(),
            func.sum(Credit.weight),
            func.sum(Credit.score * Credit.weight),
        )
        .where(Credit.shared.is_(False), *conds)
        .group_by(key, Credit.is_default)
    ).all()
    for unit_key, is_default, n, weight, points in grouped:
        for target in ancestors[unit_key] if ancestors else (unit_key,):
            units[target].part(is_default).add(int(n), int(weight or 0), float(points or 0))

    # Evaluations credited to several organisations (a bundle's overall score, C2) count once
    # per unit, however many of their credits fall inside it.
    shared = session.execute(
        select(Credit.evaluation_id, key, Credit.is_default, Credit.weight, Credit.score).where(
            Credit.shared.is_(True), *conds
        )
    ).all()
    seen: set[tuple[int, Any]] = set()
    for evaluation_id, unit_key, is_default, weight, score in shared:
        for target in ancestors[unit_key] if ancestors else (unit_key,):
            if (evaluation_id, target) in seen:
                continue
            seen.add((evaluation_id, target))
            units[target].part(is_default).add(1, int(weight), float(score) * int(weight))

    if scope is not None and ancestors is not None:
        units = {k: v for k, v in units.items() if k in scope}
    if ancestors is not None and not access.everything:
        # Only regions wholly inside the caller's subtrees, not their partial ancestors.
        units = {
            k: v
            for k, v in units.items()
            if any(regions[k].path.startswith(p) for p in access.region_paths)
        }
    if dimension is Dimension.org and access.finest == "org":
        units = {k: v for k, v in units.items() if k in access.org_ids}
    return _rows(session, dimension, units, regions)


DIMENSIONS_BY_SCOPE: dict[str, frozenset[Dimension]] = {
    "all": frozenset(Dimension),
    "region": frozenset(Dimension),
    "org": frozenset({Dimension.staff, Dimension.org, Dimension.item}),
    "staff": frozenset({Dimension.staff}),
}


def _ancestor_map(regions: dict[str, Region]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for code, region in regions.items():
        result[code] = [c for c in region.path.strip("/").split("/") if c]
        if code not in result[code]:
            result[code].append(code)
    return result


def _rows(
    session: Session, dimension: Dimension, units: dict[Any, _Unit], regions: dict[str, Region]
) -> list[ScoreRow]:
    names = _names(session, dimension, units.keys(), regions)
    rows = []
    for unit_key, unit in units.items():
        code, name, level = names.get(unit_key, (str(unit_key), str(unit_key), None))
        both = _Sum()
        for part in (unit.active, unit.default):
            both.add(part.evaluations, part.transactions, part.points)
        rows.append(
            ScoreRow(
                code=code,
                name=name,
                level=level,
                all=both.tally(),
                active=unit.active.tally(),
                default=unit.default.tally(),
            )
        )
    return rows


def _names(
    session: Session, dimension: Dimension, keys: Iterable[Any], regions: dict[str, Region]
) -> dict[Any, tuple[str, str, str | None]]:
    ids = list(keys)
    if dimension is Dimension.region:
        return {c: (c, regions[c].name, regions[c].level) for c in ids if c in regions}
    model: Any = {
        Dimension.staff: Staff,
        Dimension.org: Organization,
        Dimension.line: BusinessLine,
        Dimension.item: ServiceItem,
    }[dimension]
    rows = session.execute(select(model.id, model.code, model.name).where(model.id.in_(ids)))
    return {i: (code, name, None) for i, code, name in rows}


def sort_rows(rows: list[ScoreRow], *, sort: str, descending: bool) -> list[ScoreRow]:
    def sort_key(row: ScoreRow) -> tuple[Any, ...]:
        if sort == "count":
            return (row.all.evaluations, row.code)
        if sort == "code":
            return (row.code,)
        average = row.all.average if row.all.average is not None else -1.0
        return (average, row.all.evaluations, row.code)

    return sorted(rows, key=sort_key, reverse=descending)
