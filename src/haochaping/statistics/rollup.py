"""Keeping the rollups current (``fold``) and rebuilding them from the raw evaluations
(``rebuild``). Both go through the same counting rules, which mirror the B2 scores:

- staff: every evaluation credited to the staff member;
- organisation, window, region (with every ancestor), business line: only evaluations that
  count for units (GX Art.4: direct evaluations of window staff where the profile says so);
- item: every evaluation of the item;
- an evaluation credited to several organisations (a bundle's overall score, C2) counts once
  per unit however many of its credits fall inside it;
- revoked evaluations count for nothing (F1-F5), defaults are kept apart from active ratings.

Business lines and items are counted per region of county level or above (``"450200:17"``),
so that a city office reads its own part of a line without touching the raw table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.orm import Session

from haochaping.bulk_insert import upsert_adding
from haochaping.cases.models import Case, Occasion, OccasionStatus
from haochaping.clock import local_date
from haochaping.db import Database
from haochaping.evaluations.models import Credit, Evaluation
from haochaping.policy import service as policy
from haochaping.statistics import orders, queue
from haochaping.statistics.geography import Geography
from haochaping.statistics.models import (
    MONTH_MEASURES,
    StatDay,
    StatLabel,
    StatMonth,
    StatOrders,
    StatPending,
)

STAFF, WINDOW, ORG, LINE, REGION, ITEM = "staff", "window", "org", "line", "region", "item"
DIMENSIONS = (STAFF, WINDOW, ORG, LINE, REGION, ITEM)
_MONTH_KEYS = ("month", "dimension", "unit", "channel", "is_default")
_DAY_KEYS = ("day", "dimension", "unit", "is_default")
_DAY_MEASURES = ("evaluations", "transactions", "points", "bad")
_LABEL_KEYS = ("month", "dimension", "unit", "label")


def unit_key(dimension: str, ident: object, region: str | None = None) -> str:
    """The rollup key of a unit: a region's code, an id, or ``region:id`` for lines and items."""
    return f"{region}:{ident}" if dimension in (LINE, ITEM) else str(ident)


@dataclass
class CreditRow:
    evaluation_id: int
    staff_id: int | None
    org_id: int
    line_id: int | None
    region_code: str
    item_id: int
    channel: int | None
    weight: int
    score: float
    level: int
    is_default: bool
    counts_for_units: bool
    rated_at: datetime
    is_bad: bool
    label_codes: list[str] | None
    window_id: int | None


@dataclass
class Tallies:
    """Deltas to add to the three rollups, keyed by their primary keys."""

    month: dict[tuple[Any, ...], list[float]] = field(default_factory=dict)
    day: dict[tuple[Any, ...], list[float]] = field(default_factory=dict)
    label: dict[tuple[Any, ...], int] = field(default_factory=lambda: defaultdict(int))

    def add_evaluation(self, credits: Sequence[CreditRow], sign: int, geo: Geography) -> None:
        first = credits[0]
        local = local_date(first.rated_at)
        month = local.year * 100 + local.month
        channel = first.channel or 0
        for (dimension, unit), weight in evaluation_units(credits, geo).items():
            self._add_month(
                (month, dimension, unit, channel, first.is_default),
                sign,
                weight,
                first.score,
                first.level,
                first.is_bad,
            )
            day = self.day.setdefault((local, dimension, unit, first.is_default), [0, 0, 0.0, 0])
            day[0] += sign
            day[1] += sign * weight
            day[2] += sign * weight * first.score
            day[3] += sign * int(first.is_bad)
            if not first.is_default:
                for code in first.label_codes or ():
                    self.label[(month, dimension, unit, code)] += sign

    def _add_month(
        self,
        key: tuple[Any, ...],
        sign: int,
        weight: int,
        score: float,
        level: int,
        is_bad: bool,
    ) -> None:
        row = self.month.setdefault(key, [0, 0, 0.0, 0, 0, 0, 0, 0, 0, 0])
        row[0] += sign
        row[1] += sign * weight
        row[2] += sign * weight * score
        row[2 + level] += sign
        row[8] += sign * int(is_bad)

    def add_expired(self, units: Iterable[tuple[str, str]], closed: datetime, sign: int) -> None:
        local = local_date(closed)
        month = local.year * 100 + local.month
        for dimension, unit in units:
            row = self.month.setdefault((month, dimension, unit, 0, False), [0] * 10)
            row[9] += sign

    def write(self, session: Session) -> None:
        conn = session.connection()
        upsert_adding(
            conn,
            _table(StatMonth),
            _rows(self.month, _MONTH_KEYS, MONTH_MEASURES),
            keys=_MONTH_KEYS,
        )
        upsert_adding(
            conn, _table(StatDay), _rows(self.day, _DAY_KEYS, _DAY_MEASURES), keys=_DAY_KEYS
        )
        labels = [
            dict(zip((*_LABEL_KEYS, "evaluations"), (*key, n), strict=True))
            for key, n in sorted(self.label.items())
            if n
        ]
        upsert_adding(conn, _table(StatLabel), labels, keys=_LABEL_KEYS)


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def _rows(
    tallies: dict[tuple[Any, ...], list[float]], keys: tuple[str, ...], measures: tuple[str, ...]
) -> list[dict[str, Any]]:
    rows = []
    for key, values in sorted(tallies.items()):
        if not any(values):
            continue
        row = dict(zip(keys, key, strict=True))
        for name, value in zip(measures, values, strict=True):
            row[name] = float(value) if name == "points" else int(value)
        rows.append(row)
    return rows


def evaluation_units(credits: Sequence[CreditRow], geo: Geography) -> dict[tuple[str, str], int]:
    """Every unit one evaluation counts for, once each, with the transactions it stands for
    there (the first credit's, as the scores read it)."""
    units: dict[tuple[str, str], int] = {}
    for c in credits:
        upper = geo.upper.get(c.region_code, [c.region_code])
        if c.staff_id is not None:
            units.setdefault((STAFF, str(c.staff_id)), c.weight)
        for region in upper:
            units.setdefault((ITEM, unit_key(ITEM, c.item_id, region)), c.weight)
        if not c.counts_for_units:
            continue
        units.setdefault((ORG, str(c.org_id)), c.weight)
        if c.window_id is not None:
            units.setdefault((WINDOW, str(c.window_id)), c.weight)
        for region in geo.ancestors.get(c.region_code, [c.region_code]):
            units.setdefault((REGION, region), c.weight)
        if c.line_id is not None:
            for region in upper:
                units.setdefault((LINE, unit_key(LINE, c.line_id, region)), c.weight)
    return units


_CREDIT_COLUMNS = (
    Credit.evaluation_id,
    Credit.staff_id,
    Credit.org_id,
    Credit.line_id,
    Credit.region_code,
    Credit.item_id,
    Credit.channel,
    Credit.weight,
    Credit.score,
    Credit.level,
    Credit.is_default,
    Credit.counts_for_units,
    Credit.rated_at,
    Evaluation.is_bad,
    Evaluation.label_codes,
    Case.window_id,
)


def _credits_of(session: Session, evaluation_ids: Sequence[int]) -> dict[int, list[CreditRow]]:
    grouped: dict[int, list[CreditRow]] = defaultdict(list)
    for start in range(0, len(evaluation_ids), 5000):
        chunk = evaluation_ids[start : start + 5000]
        rows = session.execute(
            select(*_CREDIT_COLUMNS)
            .join(Evaluation, Evaluation.id == Credit.evaluation_id)
            .outerjoin(Case, Case.id == Evaluation.case_id)
            .where(Credit.evaluation_id.in_(chunk))
            .order_by(Credit.id)
        )
        for row in rows:
            grouped[row.evaluation_id].append(CreditRow(**row._mapping))
    return grouped


def _expired_units(
    session: Session, occasion_ids: Sequence[int], geo: Geography
) -> list[tuple[list[tuple[str, str]], datetime]]:
    """The units an occasion closed unrated counts against (cases only; a bundle's own
    occasions are counted through their member cases' evaluations)."""
    result = []
    for start in range(0, len(occasion_ids), 5000):
        rows = session.execute(
            select(
                Occasion.rate_until,
                Occasion.rates_staff,
                Occasion.staff_id,
                Occasion.credited,
                Occasion.profile_name,
                Case.org_id,
                Case.region_code,
                Case.line_id,
                Case.item_id,
                Case.window_id,
            )
            .join(Case, Case.id == Occasion.case_id)
            .where(Occasion.id.in_(occasion_ids[start : start + 5000]))
        )
        for (
            closed,
            rates_staff,
            staff_id,
            credited,
            profile,
            org,
            region,
            line,
            item,
            window,
        ) in rows:
            if not credited:
                continue
            counts = (
                rates_staff or policy.get_profile(name=profile).scoring.item_only_counts_for_units
            )
            row = CreditRow(
                0,
                staff_id if rates_staff else None,
                org,
                line,
                region,
                item,
                None,
                1,
                0.0,
                5,
                False,
                counts,
                closed,
                False,
                None,
                window,
            )
            result.append((list(evaluation_units([row], geo)), closed))
    return result


# --- folding the queue -------------------------------------------------------------------------


def fold(session: Session, *, limit: int = 20000) -> int:
    """Count up to ``limit`` queued changes into the rollups; returns how many were taken.
    On PostgreSQL two sweepers take disjoint parts of the queue (``SKIP LOCKED``)."""
    taken = _take(session, limit)
    if not taken:
        return 0
    geo = Geography.load(session)
    tallies = Tallies()
    signs: dict[int, int] = defaultdict(int)
    expired: dict[int, int] = defaultdict(int)
    order_months: set[int] = set()
    for kind, ref_id, sign in taken:
        if kind == queue.ORDERS:
            order_months.add(ref_id)
        else:
            (signs if kind == queue.EVALUATION else expired)[ref_id] += sign
    counted = sorted(i for i, s in signs.items() if s)
    if session.get_bind().dialect.name == "postgresql":
        if counted:
            _prepare_pairs(session, geo)
            session.execute(
                text(_FOLD_PAIRS), {"ids": counted, "signs": [signs[i] for i in counted]}
            )
            _count_pairs(session)
    else:
        for evaluation_id, rows in _credits_of(session, counted).items():
            tallies.add_evaluation(rows, signs[evaluation_id], geo)
    for units, closed in _expired_units(session, sorted(i for i, s in expired.items() if s), geo):
        tallies.add_expired(units, closed, 1)
    tallies.write(session)
    orders.refresh(session, order_months)
    return len(taken)


def _take(session: Session, limit: int) -> list[tuple[str, int, int]]:
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(
            text(
                "DELETE FROM stat_pending WHERE id IN (SELECT id FROM stat_pending ORDER BY id "
                "LIMIT :n FOR UPDATE SKIP LOCKED) RETURNING kind, ref_id, sign"
            ),
            {"n": limit},
        )
        return list(rows)
    picked = list(
        session.execute(
            select(StatPending.id, StatPending.kind, StatPending.ref_id, StatPending.sign)
            .order_by(StatPending.id)
            .limit(limit)
        )
    )
    if picked:
        session.execute(delete(StatPending).where(StatPending.id.in_([p[0] for p in picked])))
    return [(kind, ref_id, sign) for _, kind, ref_id, sign in picked]


def pending_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StatPending)) or 0


# --- rebuilding --------------------------------------------------------------------------------


@dataclass
class RebuildResult:
    evaluations: int = 0
    expired: int = 0
    month_rows: int = 0
    day_rows: int = 0
    label_rows: int = 0


def rebuild(
    session: Session,
    *,
    batch: int = 20000,
    progress: Callable[[int, int], None] | None = None,
) -> RebuildResult:
    """Recount the rollups from the raw evaluations (revoked ones excluded) and expired
    occasions, replacing what they held, in the session's transaction. ``rebuild_database``
    runs it under REPEATABLE READ on PostgreSQL, so that what arrives meanwhile stays queued
    and is folded afterwards, neither lost nor counted twice."""
    for model in (StatPending, StatMonth, StatDay, StatLabel, StatOrders):
        session.execute(delete(model))
    geo = Geography.load(session)
    tallies = Tallies()
    result = RebuildResult()
    live = Evaluation.revoked_at.is_(None)
    total = session.scalar(select(func.count()).select_from(Evaluation).where(live)) or 0
    if session.get_bind().dialect.name == "postgresql":
        _rebuild_in_database(session, geo, result, total, batch=batch * 10, progress=progress)
    else:
        _rebuild_in_python(session, geo, tallies, result, total, batch=batch, progress=progress)
    expired_ids = list(
        session.scalars(select(Occasion.id).where(Occasion.status == OccasionStatus.expired.value))
    )
    for units, closed in _expired_units(session, expired_ids, geo):
        tallies.add_expired(units, closed, 1)
    result.expired = len(expired_ids)
    tallies.write(session)
    orders.refresh(session, orders.all_months(session))
    for model, attribute in ((StatMonth, "month_rows"), (StatDay, "day_rows")):
        count = session.scalar(select(func.count()).select_from(model)) or 0
        setattr(result, attribute, count)
    result.label_rows = session.scalar(select(func.count()).select_from(StatLabel)) or 0
    return result


def _rebuild_in_python(
    session: Session,
    geo: Geography,
    tallies: Tallies,
    result: RebuildResult,
    total: int,
    *,
    batch: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """The fold's own counting, evaluation by evaluation (SQLite: small databases)."""
    live = Evaluation.revoked_at.is_(None)
    last_id = 0
    while True:
        ids = list(
            session.scalars(
                select(Evaluation.id)
                .where(live, Evaluation.id > last_id)
                .order_by(Evaluation.id)
                .limit(batch)
            )
        )
        if not ids:
            break
        for rows in _credits_of(session, ids).values():
            tallies.add_evaluation(rows, 1, geo)
        last_id = ids[-1]
        result.evaluations += len(ids)
        if progress is not None:
            progress(result.evaluations, total)


# The same counting rules as ``evaluation_units`` and ``Tallies.add_evaluation``, set-wise in
# PostgreSQL: every (evaluation, unit) pair once, with the weight of the first credit that
# reaches the unit and the figures of the evaluation's first credit, times the evaluation's
# sign (+1 counted, -1 revoked). ``{source}`` picks the evaluations: a range of ids for the
# rebuild, the queued ids (with their net sign) for a fold.
_PAIRS_SQL = """
INSERT INTO stat_pairs
WITH cr AS (
    SELECT c.id AS cid, c.evaluation_id AS eid, c.staff_id, c.org_id, c.line_id,
           c.region_code, c.item_id, c.weight, c.counts_for_units, c.shared, cs.window_id
    FROM evaluation_credits c
    JOIN evaluations e ON e.id = c.evaluation_id
    LEFT JOIN cases cs ON cs.id = e.case_id
    {where}
),
units AS (
    SELECT eid, cid, shared, 'staff' AS dimension, staff_id::text AS unit, weight
    FROM cr WHERE staff_id IS NOT NULL
    UNION ALL
    SELECT eid, cid, shared, 'item', a.ancestor || ':' || item_id, weight
    FROM cr JOIN stat_regions a ON a.code = cr.region_code AND a.upper
    UNION ALL
    SELECT eid, cid, shared, 'org', org_id::text, weight FROM cr WHERE counts_for_units
    UNION ALL
    SELECT eid, cid, shared, 'window', window_id::text, weight
    FROM cr WHERE counts_for_units AND window_id IS NOT NULL
    UNION ALL
    SELECT eid, cid, shared, 'region', a.ancestor, weight
    FROM cr JOIN stat_regions a ON a.code = cr.region_code WHERE counts_for_units
    UNION ALL
    SELECT eid, cid, shared, 'line', a.ancestor || ':' || line_id, weight
    FROM cr JOIN stat_regions a ON a.code = cr.region_code AND a.upper
    WHERE counts_for_units AND line_id IS NOT NULL
),
-- An evaluation credited once reaches each unit once; only a shared one (a bundle's overall
-- score, C2) needs its units deduplicated.
once AS (
    SELECT eid, dimension, unit, weight FROM units WHERE NOT shared
    UNION ALL
    SELECT * FROM (
        SELECT DISTINCT ON (eid, dimension, unit) eid, dimension, unit, weight
        FROM units WHERE shared ORDER BY eid, dimension, unit, cid
    ) deduplicated
),
first AS (
    SELECT DISTINCT ON (c.evaluation_id) c.evaluation_id AS eid, {sign} AS sign,
           coalesce(c.channel, 0) AS channel, c.score, c.level, c.is_default,
           (c.rated_at AT TIME ZONE 'Asia/Shanghai')::date AS day, e.is_bad, e.label_codes
    FROM evaluation_credits c
    JOIN evaluations e ON e.id = c.evaluation_id
    {signs}
    {where}
    ORDER BY c.evaluation_id, c.id
)
SELECT once.dimension, once.unit, first.day,
       (extract(year FROM first.day) * 100 + extract(month FROM first.day))::int,
       first.channel, first.is_default, first.sign, once.weight, first.score, first.level,
       first.is_bad, CASE WHEN first.is_default THEN NULL ELSE first.label_codes END
FROM once JOIN first ON first.eid = once.eid
"""
# The range on both tables, so that each is read through its index, not scanned whole.
_RANGE = (
    "WHERE e.revoked_at IS NULL AND e.id >= :lo AND e.id < :hi "
    "AND c.evaluation_id >= :lo AND c.evaluation_id < :hi"
)
# The queued ids through their index (``= ANY``), their net signs joined to the few rows found.
_QUEUED = "WHERE c.evaluation_id = ANY(CAST(:ids AS int[])) AND e.id = ANY(CAST(:ids AS int[]))"
_SIGNS = (
    "JOIN unnest(CAST(:ids AS int[]), CAST(:signs AS int[])) AS queued(eid, sign) "
    "ON queued.eid = c.evaluation_id"
)
_REBUILD_PAIRS = _PAIRS_SQL.format(where=_RANGE, signs="", sign="1")
_FOLD_PAIRS = _PAIRS_SQL.format(where=_QUEUED, signs=_SIGNS, sign="queued.sign")

# Rows sorted by key, so that two folds lock the rows they share in the same order.
_MONTH_SQL = """
INSERT INTO stat_month (dimension, unit, month, channel, is_default, evaluations, transactions,
                        points, level1, level2, level3, level4, level5, bad, expired)
SELECT dimension, unit, month, channel, is_default, sum(sign), sum(sign * weight),
       sum(sign * weight * score),
       coalesce(sum(sign) FILTER (WHERE level = 1), 0),
       coalesce(sum(sign) FILTER (WHERE level = 2), 0),
       coalesce(sum(sign) FILTER (WHERE level = 3), 0),
       coalesce(sum(sign) FILTER (WHERE level = 4), 0),
       coalesce(sum(sign) FILTER (WHERE level = 5), 0),
       coalesce(sum(sign) FILTER (WHERE is_bad), 0), 0
FROM stat_pairs GROUP BY dimension, unit, month, channel, is_default
ORDER BY dimension, unit, month, channel, is_default
ON CONFLICT (dimension, unit, month, channel, is_default) DO UPDATE SET
    evaluations = stat_month.evaluations + excluded.evaluations,
    transactions = stat_month.transactions + excluded.transactions,
    points = stat_month.points + excluded.points,
    level1 = stat_month.level1 + excluded.level1, level2 = stat_month.level2 + excluded.level2,
    level3 = stat_month.level3 + excluded.level3, level4 = stat_month.level4 + excluded.level4,
    level5 = stat_month.level5 + excluded.level5, bad = stat_month.bad + excluded.bad
"""

_DAY_SQL = """
INSERT INTO stat_day (dimension, unit, day, is_default, evaluations, transactions, points, bad)
SELECT dimension, unit, day, is_default, sum(sign), sum(sign * weight),
       sum(sign * weight * score), coalesce(sum(sign) FILTER (WHERE is_bad), 0)
FROM stat_pairs GROUP BY dimension, unit, day, is_default
ORDER BY dimension, unit, day, is_default
ON CONFLICT (dimension, unit, day, is_default) DO UPDATE SET
    evaluations = stat_day.evaluations + excluded.evaluations,
    transactions = stat_day.transactions + excluded.transactions,
    points = stat_day.points + excluded.points, bad = stat_day.bad + excluded.bad
"""

_LABEL_SQL = """
INSERT INTO stat_label (dimension, unit, month, label, evaluations)
SELECT dimension, unit, month, label.code, sum(sign)
FROM stat_pairs, json_array_elements_text(labels) AS label(code)
WHERE labels IS NOT NULL AND json_typeof(labels) = 'array'
GROUP BY dimension, unit, month, label.code
ORDER BY dimension, unit, month, label.code
ON CONFLICT (dimension, unit, month, label) DO UPDATE SET
    evaluations = stat_label.evaluations + excluded.evaluations
"""


def _prepare_pairs(session: Session, geo: Geography) -> None:
    """The two temporary tables of a set-wise count (dropped at commit)."""
    session.execute(
        text(
            "CREATE TEMPORARY TABLE IF NOT EXISTS stat_regions "
            "(code text, ancestor text, upper bool) ON COMMIT DROP"
        )
    )
    session.execute(
        text(
            "CREATE TEMPORARY TABLE IF NOT EXISTS stat_pairs (dimension text, unit text, "
            "day date, month int, channel smallint, is_default bool, sign int, weight int, "
            "score float8, level int, is_bad bool, labels json) ON COMMIT DROP"
        )
    )
    session.execute(text("TRUNCATE stat_regions, stat_pairs"))
    regions = [
        {"code": code, "ancestor": ancestor, "upper": ancestor in geo.upper[code]}
        for code, chain in geo.ancestors.items()
        for ancestor in chain
    ]
    if regions:
        session.execute(text("INSERT INTO stat_regions VALUES (:code, :ancestor, :upper)"), regions)
    session.execute(text("ANALYZE stat_regions"))


def _count_pairs(session: Session) -> None:
    """Add the pairs gathered in ``stat_pairs`` to the three rollups, then empty it."""
    for statement in (_MONTH_SQL, _DAY_SQL, _LABEL_SQL):
        session.execute(text(statement))
    session.execute(text("TRUNCATE stat_pairs"))


def _rebuild_in_database(
    session: Session,
    geo: Geography,
    result: RebuildResult,
    total: int,
    *,
    batch: int,
    progress: Callable[[int, int], None] | None,
) -> None:
    """PostgreSQL: the counting done inside the database, a range of evaluation ids at a time
    (three aggregating inserts per range), instead of every evaluation through Python."""
    _prepare_pairs(session, geo)
    # Room for the sorts and hash aggregates of a range in memory (this transaction only).
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    live = Evaluation.revoked_at.is_(None)
    low, high = session.execute(select(func.min(Evaluation.id), func.max(Evaluation.id))).one()
    if low is None:
        return
    start = low
    while start <= high:
        end = start + batch
        session.execute(text(_REBUILD_PAIRS), {"lo": start, "hi": end})
        _count_pairs(session)
        result.evaluations += (
            session.scalar(
                select(func.count())
                .select_from(Evaluation)
                .where(live, Evaluation.id >= start, Evaluation.id < end)
            )
            or 0
        )
        if progress is not None:
            progress(result.evaluations, total)
        start = end


def rebuild_database(
    db: Database, *, batch: int = 20000, progress: Callable[[int, int], None] | None = None
) -> RebuildResult:
    """``rebuild`` in a transaction of its own, one snapshot of the data on PostgreSQL."""
    options = {"isolation_level": "REPEATABLE READ"} if not db.is_sqlite else {}
    with db.engine.connect().execution_options(**options) as conn, conn.begin():
        session = Session(bind=conn)
        try:
            result = rebuild(session, batch=batch, progress=progress)
            session.flush()
        finally:
            session.close()
    return result
