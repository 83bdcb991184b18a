"""The evaluation writer (C1, B2, C2, F4): one statement on PostgreSQL (data-modifying CTEs),
one per table on SQLite; both must store the same evaluations, credits, queue entries, occasion
statuses and work orders. Concurrent ratings of one occasion: ``test_api``'s
``test_concurrent_submissions_one_wins_others_409`` (both databases)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.cases.models import Occasion
from haochaping.evaluations import service as evaluations
from haochaping.evaluations import writer
from haochaping.evaluations.models import Credit, Evaluation
from haochaping.evaluations.schemas import EvaluationIn
from haochaping.statistics.models import StatPending
from haochaping.workorders.models import WorkOrder, WorkOrderEvent
from tests.factories import T0, make_catalog, occasions_of, rate, register

_SKIP = {"id", "occasion_id", "case_id", "bundle_id", "evaluation_id"}


def _batch(session: Session, tag: str) -> list[int]:
    """Occasions of every kind a rating meets: a staff-rated case, an online one, the stages
    and the overall occasion of a three-case bundle (C2), each under its own numbers."""
    staffed = occasions_of(session, register(session, f"{tag}-S", staff_code="S1"))[0].id
    online = occasions_of(session, register(session, f"{tag}-O", handling="online"))[0].id
    common = {"bundle_no": f"{tag}-B", "approved_at": T0, "delivered_at": T0}
    register(session, f"{tag}-B-a", staff_code="S1", **common)
    register(session, f"{tag}-B-b", "I-IMM", staff_code="S2", **common)
    bundle = {
        o.stage: o.id
        for o in occasions_of(
            session, register(session, f"{tag}-B-c", "I-O2", staff_code="S3", **common)
        )
    }
    return [staffed, online, bundle["accept"], bundle["overall"]]


def _items(occasion_ids: list[int]) -> list[EvaluationIn]:
    levels = [
        (5, [], None),
        (1, ["attitude.1"], "窗口人员态度生硬"),
        (4, [], None),
        (2, [], "等太久"),
    ]
    return [
        EvaluationIn(
            occasion_id=oid,
            level=level,
            channel=3,  # type: ignore[arg-type]
            label_codes=labels,
            text=text,
        )
        for oid, (level, labels, text) in zip(occasion_ids, levels, strict=True)
    ]


def _snapshot(session: Session, occasion_ids: list[int]) -> dict[str, Any]:
    """What the writer stored for these occasions, without ids and numbers."""
    session.expire_all()
    evs = session.scalars(
        select(Evaluation).where(Evaluation.occasion_id.in_(occasion_ids)).order_by(Evaluation.id)
    ).all()
    ids = [e.id for e in evs]

    def plain(obj: Any) -> dict[str, Any]:
        return {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in _SKIP}

    position = {e.id: occasion_ids.index(e.occasion_id) for e in evs}
    credits = session.scalars(select(Credit).where(Credit.evaluation_id.in_(ids))).all()
    queued = session.scalars(
        select(StatPending).where(StatPending.kind == "evaluation", StatPending.ref_id.in_(ids))
    ).all()
    orders = session.scalars(select(WorkOrder).where(WorkOrder.evaluation_id.in_(ids))).all()
    events = session.scalars(
        select(WorkOrderEvent).where(WorkOrderEvent.order_id.in_([o.id for o in orders]))
    ).all()
    statuses = {
        oid: status
        for oid, status in session.execute(
            select(Occasion.id, Occasion.status).where(Occasion.id.in_(occasion_ids))
        )
    }
    return {
        "evaluations": sorted(((position[e.id], plain(e)) for e in evs), key=lambda x: x[0]),
        "credits": sorted(
            (position[c.evaluation_id], sorted(plain(c).items(), key=str)) for c in credits
        ),
        "queued": sorted((position[q.ref_id], q.sign) for q in queued),
        "orders": sorted(
            (position[o.evaluation_id or 0], o.state, o.real_name, o.staff_id) for o in orders
        ),
        "events": sorted((e.action, e.to_state, e.note, e.actor) for e in events),
        "statuses": [statuses[o] for o in occasion_ids],
    }


def test_C1_B2_writer_stores_evaluations_credits_queue_and_orders(session: Session) -> None:
    """Same expectations on both databases, hence for the CTE and the row-wise writer."""
    make_catalog(session)
    occasion_ids = _batch(session, "W1")
    rate(session, occasion_ids[2], 3)  # rated before: the bulk's item is refused, C1
    results = evaluations.bulk_submit(
        session=session, items=_items(occasion_ids), now=T0, scope=Scope.all()
    )
    assert [(r.accepted, r.code) for r in results] == [
        (True, None),
        (True, None),
        (False, "already_evaluated"),
        (True, None),
    ]
    got = _snapshot(session, occasion_ids)
    assert [p for p, _ in got["evaluations"]] == [0, 1, 2, 3]
    assert [e["level"] for _, e in got["evaluations"]] == [5, 1, 3, 2]
    assert got["statuses"] == ["rated"] * 4
    # One queue entry per stored evaluation (the earlier rating's included), none twice.
    assert got["queued"] == [(0, 1), (1, 1), (2, 1), (3, 1)]
    # The bundle's overall rating credits each of its organisations once, shared (C2).
    bundle_credits = [dict(c) for p, c in got["credits"] if p == 3]
    assert len(bundle_credits) >= 1 and all(c["staff_id"] is None for c in bundle_credits)
    assert {c["shared"] for c in bundle_credits} == {len(bundle_credits) > 1}
    staffed = [dict(c) for p, c in got["credits"] if p == 0]
    assert len(staffed) == 1 and staffed[0]["staff_id"] is not None
    # Both bad reviews opened a work order with its opening event (F4).
    assert [o[:2] for o in got["orders"]] == [(1, "registered"), (3, "registered")]
    assert [e[0] for e in got["events"]] == ["opened", "opened"]


def test_C1_cte_and_rowwise_writers_store_identical_rows(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL only: the one-statement writer against the per-table one, same ratings on
    two identical batches of occasions."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("the one-statement writer is PostgreSQL's")
    make_catalog(session)
    first, second = _batch(session, "W2"), _batch(session, "W3")
    for oids in (first, second):
        if oids is second:
            monkeypatch.setattr(writer, "_write_pg", writer._write_rowwise)
        rate(session, oids[2], 3)
        evaluations.bulk_submit(session=session, items=_items(oids), now=T0, scope=Scope.all())
    one_statement, rowwise = _snapshot(session, first), _snapshot(session, second)
    assert one_statement == rowwise
    assert len(one_statement["credits"]) >= 4 and len(one_statement["orders"]) == 2
