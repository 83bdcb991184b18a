"""Fair rankings and focus lists (F6, G2).

Units are ranked only against comparable units (the same group: regions of one level,
organisations of one level and business line ...), only once they have enough evaluations
(``ranking_min_evaluations``), and by a shrunk score: the group's mean counts as
``ranking_prior_weight`` evaluations beside the unit's own, so that a handful of perfect ratings
cannot top the table (FixMyStreet's "fixed one report in 4 minutes")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from haochaping.policy.schemas import Supervision
from haochaping.statistics.schemas import RankedUnit, UnitMetrics


def explanation(supervision: Supervision) -> str:
    return (
        f"修正得分 =（组内平均分 × {supervision.ranking_prior_weight} + 本单位得分合计）÷"
        f"（{supervision.ranking_prior_weight} + 本单位评价数），评价少的单位向组内平均靠拢；"
        f"评价数不足 {supervision.ranking_min_evaluations} 条的单位不参与排名。"
    )


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one unit stands in its group."""

    shrunk: float | None
    group_mean: float | None
    ranked: bool
    rank: int | None
    group_size: int


class Figures(Protocol):
    """What a ranking reads of a unit (``UnitMetrics`` or a lighter row)."""

    @property
    def key(self) -> str: ...
    @property
    def code(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def evaluations(self) -> int: ...
    @property
    def transactions(self) -> int: ...
    @property
    def average(self) -> float | None: ...


def standings(rows: Sequence[Figures], supervision: Supervision) -> dict[str, Standing]:
    """Every unit's shrunk score and rank in its group (None when not ranked): the group's
    mean counts as ``ranking_prior_weight`` evaluations beside the unit's own; a unit with
    fewer than ``ranking_min_evaluations`` evaluations is not ranked."""
    groups: dict[str, list[Figures]] = defaultdict(list)
    for row in rows:
        groups[row.group].append(row)
    prior = supervision.ranking_prior_weight
    minimum = supervision.ranking_min_evaluations
    result: dict[str, Standing] = {}
    for members in groups.values():
        points = sum((m.average or 0.0) * m.transactions for m in members)
        transactions = sum(m.transactions for m in members)
        mean = points / transactions if transactions else None
        shrunk: dict[str, float | None] = {}
        for m in members:
            own = (m.average or 0.0) * m.transactions
            value = None
            if mean is not None and (prior + m.transactions):
                value = (prior * mean + own) / (prior + m.transactions)
            shrunk[m.key] = value
        eligible = sorted(
            (m for m in members if m.evaluations >= minimum and shrunk[m.key] is not None),
            key=lambda m: (-(shrunk[m.key] or 0.0), -(m.average or 0.0), -m.evaluations, m.code),
        )
        ranks = {m.key: position for position, m in enumerate(eligible, start=1)}
        for m in members:
            rank = ranks.get(m.key)
            result[m.key] = Standing(shrunk[m.key], mean, rank is not None, rank, len(eligible))
    return result


def order_key(group: str, code: str, standing: Standing) -> tuple[str, bool, int, str]:
    """Group by group, then rank, then the unranked by code."""
    rank = standing.rank
    return (group, rank is None, rank or 0, "" if rank else code)


def ranked(row: UnitMetrics, standing: Standing) -> RankedUnit:
    return RankedUnit(
        # The row's own fields as they are (no dump and re-validation of nested models).
        **row.__dict__,
        ranked=standing.ranked,
        rank=standing.rank,
        group_size=standing.group_size,
        shrunk=standing.shrunk,
        group_mean=standing.group_mean,
    )


def rank(rows: Sequence[UnitMetrics], supervision: Supervision) -> list[RankedUnit]:
    """Every row with its group's mean, shrunk score and rank (None when not ranked), ordered
    by group, then rank, then the unranked."""
    found = standings(rows, supervision)
    result = [ranked(row, found[row.key]) for row in rows]
    return sorted(result, key=lambda r: order_key(r.group, r.code, found[r.key]))


def bottom(found: dict[str, Standing], n: int) -> set[str]:
    """Keys of the ``n`` last-ranked units of every group."""
    return {
        key
        for key, standing in found.items()
        if standing.rank is not None and standing.rank > max(standing.group_size - n, 0)
    }


class Shares(Protocol):
    @property
    def code(self) -> str: ...
    @property
    def evaluations(self) -> int: ...
    @property
    def low_share(self) -> float | None: ...


S = TypeVar("S", bound=Shares)


def concentrated_low(rows: Sequence[S], supervision: Supervision) -> list[S]:
    """F6: units whose share of ratings at or below ``focus_max_level`` reaches
    ``focus_share``, once they have ``focus_min_evaluations``."""
    return sorted(
        (
            r
            for r in rows
            if r.evaluations >= supervision.focus_min_evaluations
            and r.low_share is not None
            and r.low_share >= supervision.focus_share
        ),
        key=lambda r: (-(r.low_share or 0.0), r.code),
    )
