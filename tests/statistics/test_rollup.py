"""Issue 6 "Scale": the rollups kept current by the queue equal a recomputation from the raw
evaluations, on a random data set with defaults, batches (C4), bundles (C2) and revocations
(F1-F5); and ``rebuild`` gives the same rollups as the incremental folds."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.clock import BEIJING
from haochaping.evaluations.models import Credit, Evaluation
from haochaping.scores import service as scores
from haochaping.scores.schemas import Dimension as ScoreDimension
from haochaping.statistics import orders, queue, rollup, service
from haochaping.statistics.geography import Geography
from haochaping.statistics.metrics import period_bounds
from haochaping.statistics.models import StatDay, StatLabel, StatMonth, StatOrders, StatPending
from haochaping.statistics.periods import parse_period
from haochaping.statistics.schemas import Dimension
from haochaping.workorders.models import WorkOrder
from tests.factories import T0, make_catalog, occasions_of, rate, register
from tests.statistics.fixture import sweep

STAFF = {"S1": "I-IMM", "S2": "I-IMM", "S3": "I-O2", "S4": "I-O3", "S5": "I-O4"}
WINDOWS = {"S1": "W1", "S2": "W1", "S3": "W2"}


def _random_month(session: Session, seed: int) -> list[int]:
    """About 80 cases over October and November 2026, rated at random (some stay silent and
    get the default), a few batches and one bundle; returns the evaluation ids."""
    rng = random.Random(seed)
    make_catalog(session)
    ids: list[int] = []
    for n in range(80):
        staff = rng.choice(list(STAFF))
        when = T0 - timedelta(days=rng.randint(0, 40), hours=rng.randint(0, 8))
        extra: dict[str, Any] = {"window_code": WINDOWS[staff]} if staff in WINDOWS else {}
        if rng.random() < 0.1:
            extra["batch_size"] = rng.randint(2, 5)
        case = register(
            session,
            f"R{seed}-{n}",
            STAFF[staff],
            now=when,
            staff_code=staff,
            accepted_at=when,
            completed_at=when,
            **extra,
        )
        if rng.random() < 0.2:
            continue  # silent: the sweep writes the default (C7)
        level = rng.choices([5, 4, 3, 2, 1], weights=[50, 20, 10, 10, 10])[0]
        bad = level <= 2
        out = rate(
            session,
            occasions_of(session, case)[0].id,
            level,
            now=when + timedelta(minutes=5),
            channel=rng.randint(1, 7),
            labels=["attitude.3"] if bad else None,
            text="态度不好" if bad else None,
        )
        ids.append(out.id)
    common = {"bundle_no": f"B-{seed}", "approved_at": T0, "delivered_at": T0}
    register(session, f"B{seed}-a", staff_code="S1", window_code="W1", **common)
    member = register(session, f"B{seed}-c", "I-O2", staff_code="S3", window_code="W2", **common)
    stages = {o.stage: o for o in occasions_of(session, member)}
    ids.append(rate(session, stages["overall"].id, 4).id)
    ids.append(rate(session, stages["accept"].id, 2, text="受理慢").id)
    sweep(session, T0 + timedelta(days=10))
    return ids


def _revoke(session: Session, evaluation_ids: list[int]) -> None:
    """What an upheld appeal does to the evaluation (workorders.service._revoke)."""
    session.execute(
        update(Evaluation).where(Evaluation.id.in_(evaluation_ids)).values(revoked_at=T0)
    )
    session.execute(
        update(Credit).where(Credit.evaluation_id.in_(evaluation_ids)).values(revoked=True)
    )
    queue.evaluations_revoked(session, evaluation_ids)


def _snapshot(session: Session) -> dict[str, set[tuple[Any, ...]]]:
    def rows(model: Any, skip: tuple[str, ...] = ()) -> set[tuple[Any, ...]]:
        columns = [c for c in model.__table__.columns if c.name not in skip]
        result = set()
        for row in session.execute(select(*columns)):
            values = tuple(round(v, 6) if isinstance(v, float) else v for v in row)
            measures = values[len(model.__table__.primary_key.columns) :]
            if any(measures):  # rows brought back to zero by a revocation count as absent
                result.add(values)
        return result

    return {"month": rows(StatMonth), "day": rows(StatDay), "label": rows(StatLabel)}


@pytest.mark.parametrize("seed", [1, 2])
def test_rollups_equal_the_raw_scores_for_every_dimension(session: Session, seed: int) -> None:
    ids = _random_month(session, seed)
    _revoke(session, random.Random(seed).sample(ids, 5))
    rollup.fold(session)
    for code in ("2026-10", "2026-11"):
        period = parse_period(code)
        start, end = period_bounds(period)
        for ours, theirs, region in (
            (Dimension.staff, ScoreDimension.staff, "450000"),
            (Dimension.org, ScoreDimension.org, "450000"),
            (Dimension.region, ScoreDimension.region, "450200"),
        ):
            raw = {
                r.code: r
                for r in scores.compute_scores(
                    session=session,
                    dimension=theirs,
                    date_from=start,
                    date_to=end,
                    access=Scope.all(),
                )
            }
            rolled = {
                r.code: r
                for r in service.table(
                    session, Scope.all(), service.Selection(ours, period, region=region)
                )
                if r.evaluations
            }
            if ours is Dimension.region:
                raw = {k: v for k, v in raw.items() if k in rolled or k in ("450224", "450225")}
            assert set(rolled) == set(raw), (code, ours)
            for key, row in rolled.items():
                expected = raw[key]
                assert row.evaluations == expected.all.evaluations, (code, ours, key)
                assert row.transactions == expected.all.transactions, (code, ours, key)
                assert row.average == pytest.approx(expected.all.average), (code, ours, key)
                assert row.default.evaluations == expected.default.evaluations
                assert row.active.average == pytest.approx(expected.active.average)


def test_level_counts_bad_reviews_and_labels_equal_group_by_over_raw(session: Session) -> None:
    ids = _random_month(session, 3)
    _revoke(session, ids[:3])
    rollup.fold(session)
    period = parse_period("2026-10..2026-11")
    start, end = period_bounds(period)
    staff_rows = service.table(
        session, Scope.all(), service.Selection(Dimension.staff, period, region="450000")
    )
    raw_levels = dict(
        session.execute(
            select(Credit.level, func.count())
            .where(
                Credit.staff_id.is_not(None),
                Credit.revoked.is_(False),
                Credit.rated_at >= start,
                Credit.rated_at < end,
            )
            .group_by(Credit.level)
        ).all()
    )
    for level in range(1, 6):
        assert sum(r.levels[level] for r in staff_rows) == raw_levels.get(level, 0), level
    raw_bad = session.scalar(
        select(func.count())
        .select_from(Evaluation)
        .join(Credit, Credit.evaluation_id == Evaluation.id)
        .where(
            Evaluation.is_bad.is_(True),
            Credit.staff_id.is_not(None),
            Credit.revoked.is_(False),
            Credit.rated_at >= start,
            Credit.rated_at < end,
        )
    )
    assert sum(r.bad for r in staff_rows) == raw_bad
    labelled = [
        e
        for e in session.scalars(
            select(Evaluation).where(
                Evaluation.revoked_at.is_(None), Evaluation.is_default.is_(False)
            )
        )
        if "attitude.3" in (e.label_codes or []) and e.case_id is not None
    ]
    view = service.overview(session, Scope.all(), Dimension.region, "450000", period)
    shares = {s.code: s.evaluations for s in view.labels}
    assert shares.get("attitude.3", 0) == len(
        [e for e in labelled if start <= e.rated_at.astimezone(BEIJING) < end]
    )


def test_rebuild_gives_the_rollups_the_folds_kept(session: Session) -> None:
    ids = _random_month(session, 4)
    _revoke(session, ids[:4])
    rollup.fold(session)
    kept = _snapshot(session)
    assert session.scalar(select(func.count()).select_from(StatPending)) == 0
    result = rollup.rebuild(session, batch=7)
    assert result.evaluations == len(
        list(session.scalars(select(Evaluation.id).where(Evaluation.revoked_at.is_(None))))
    )
    assert _snapshot(session) == kept


def test_a_revocation_takes_the_evaluation_out_of_every_figure(session: Session) -> None:
    make_catalog(session)
    case = register(session, "REV-1", staff_code="S1", window_code="W1")
    evaluation = rate(session, occasions_of(session, case)[0].id, 1, text="态度差")
    rollup.fold(session)
    period = parse_period("2026-11")
    before = service.table(
        session, Scope.all(), service.Selection(Dimension.org, period, region="450224")
    )
    assert {r.code: r.evaluations for r in before}["O1"] == 1
    _revoke(session, [evaluation.id])
    rollup.fold(session)
    for dimension, region in (
        (Dimension.org, "450224"),
        (Dimension.region, "450000"),
        (Dimension.staff, "450224"),
        (Dimension.line, "450224"),
    ):
        rows = service.table(
            session, Scope.all(), service.Selection(dimension, period, region=region)
        )
        assert all(r.evaluations == 0 and r.bad == 0 for r in rows), dimension


def _raw_orders(session: Session) -> dict[tuple[str, str, int], list[float]]:
    geo = Geography.load(session)
    result = {}
    for month in orders.all_months(session):
        start, end = orders.month_bounds(month)
        for dimension in Dimension:
            for key, values in orders.count(session, dimension, start, end, geo).items():
                result[(dimension.value, key, month)] = values
    return result


def _stored_orders(session: Session) -> dict[tuple[str, str, int], list[float]]:
    return {
        (r.dimension, r.unit, r.month): [float(getattr(r, name)) for name in orders.MEASURES]
        for r in session.scalars(select(StatOrders))
    }


def test_F1_F6_work_order_figures_follow_every_change_and_equal_the_raw_orders(
    session: Session,
) -> None:
    """Orders change after they arrive: each change queues its month, the fold recounts it, and
    the rollup equals the raw orders; a rebuild gives the same."""
    _random_month(session, 3)
    rollup.fold(session)
    assert _stored_orders(session) == _raw_orders(session)
    november = orders.month_of(T0)
    assert _stored_orders(session)[("region", "450000", november)][0] > 0

    # Close one order on time, mark another overdue (as the sweeper does), uphold an appeal.
    changed = list(session.scalars(select(WorkOrder).order_by(WorkOrder.id).limit(3)))
    first, second, third = changed
    first.state, first.resolution = "closed", "rectify"
    second.overdue = True
    third.state, third.appeal_filed_at = "revoked", T0
    session.flush()
    pending = set(
        session.scalars(select(StatPending.ref_id).where(StatPending.kind == queue.ORDERS))
    )
    assert pending == {orders.month_of(o.received_at) for o in changed}
    rollup.fold(session)
    figures = _stored_orders(session)
    assert figures == _raw_orders(session)
    totals = [0.0] * len(orders.MEASURES)
    for (dimension, unit, _), values in figures.items():
        if (dimension, unit) == ("region", "450000"):
            totals = [a + b for a, b in zip(totals, values, strict=True)]
    province = dict(zip(orders.MEASURES, totals, strict=True))
    assert province["overdue"] >= 1 and province["upheld"] >= 1 and province["rectified"] >= 1

    tallies = service.metrics.work_order_tallies(
        session, Dimension.region, ["450000"], parse_period("2026-10..2026-11")
    )["450000"]
    assert (tallies.opened, tallies.upheld) == (province["opened"], province["upheld"])

    rollup.rebuild(session)
    assert _stored_orders(session) == figures
