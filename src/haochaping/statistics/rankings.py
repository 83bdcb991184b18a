"""Fair rankings and focus lists (F6, G2).

Units are ranked only against comparable units (the same group: regions of one level,
organisations of one level and business line ...), only once they have enough evaluations
(``ranking_min_evaluations``), and by a shrunk score: the group's mean counts as
``ranking_prior_weight`` evaluations beside the unit's own, so that a handful of perfect ratings
cannot top the table (FixMyStreet's "fixed one report in 4 minutes")."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from haochaping.policy.schemas import Supervision
from haochaping.statistics.schemas import RankedUnit, UnitMetrics


def explanation(supervision: Supervision) -> str:
    return (
        f"修正得分 =（组内平均分 × {supervision.ranking_prior_weight} + 本单位得分合计）÷"
        f"（{supervision.ranking_prior_weight} + 本单位评价数），评价少的单位向组内平均靠拢；"
        f"评价数不足 {supervision.ranking_min_evaluations} 条的单位不参与排名。"
    )


def rank(rows: Sequence[UnitMetrics], supervision: Supervision) -> list[RankedUnit]:
    """Every row with its group's mean, shrunk score and rank (None when not ranked), ordered
    by group, then rank, then the unranked."""
    groups: dict[str, list[UnitMetrics]] = defaultdict(list)
    for row in rows:
        groups[row.group].append(row)
    prior = supervision.ranking_prior_weight
    result: list[RankedUnit] = []
    for group in sorted(groups):
        members = groups[group]
        points = sum((m.average or 0.0) * m.transactions for m in members)
        transactions = sum(m.transactions for m in members)
        mean = points / transactions if transactions else None
        ranked: list[RankedUnit] = []
        for m in members:
            own = (m.average or 0.0) * m.transactions
            shrunk = None
            if mean is not None and (prior + m.transactions):
                shrunk = (prior * mean + own) / (prior + m.transactions)
            entry = RankedUnit(
                **m.model_dump(),
                ranked=m.evaluations >= supervision.ranking_min_evaluations and shrunk is not None,
                shrunk=shrunk,
                group_mean=mean,
            )
            ranked.append(entry)
        eligible = sorted(
            (r for r in ranked if r.ranked),
            key=lambda r: (-(r.shrunk or 0.0), -(r.average or 0.0), -r.evaluations, r.code),
        )
        for position, entry in enumerate(eligible, start=1):
            entry.rank = position
        for entry in ranked:
            entry.group_size = len(eligible)
        unranked = sorted((r for r in ranked if not r.ranked), key=lambda r: r.code)
        result.extend([*eligible, *unranked])
    return result


def bottom(ranked: Sequence[RankedUnit], n: int) -> set[str]:
    """Keys of the ``n`` last-ranked units of every group."""
    return {r.key for r in ranked if r.rank is not None and r.rank > max(r.group_size - n, 0)}


def concentrated_low(rows: Sequence[UnitMetrics], supervision: Supervision) -> list[UnitMetrics]:
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
