"""Intake (F4 谁办理、谁负责; RA 附件3): every bad review opens a work order routed to the
organisation, window and staff member that handled the case, in the transaction that stores the
review, set-wise for bulk submissions. Its text goes to review (E1) at the same time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from haochaping.bulk_insert import insert_rows, scalar_defaults
from haochaping.calendar.service import WorkCalendar
from haochaping.cases.models import Case
from haochaping.clock import local_date
from haochaping.evaluations.arrived import BadReview
from haochaping.policy import service as policy
from haochaping.textreview import service as textreview
from haochaping.workorders import steps
from haochaping.workorders.models import OrderSource, WorkOrder, WorkOrderEvent
from haochaping.workorders.procedure import Actor, State
from haochaping.workorders.steps import NewOrder

_ORDERS = cast(Table, WorkOrder.__table__)
_EVENTS = cast(Table, WorkOrderEvent.__table__)
_ORDER_DEFAULTS = scalar_defaults(_ORDERS)


def order_number(prefix: str, at: datetime, serial: int) -> str:
    """``CP20260930-00000042``: CP for a bad review (差评), TS for a complaint (投诉)."""
    return f"{prefix}{local_date(at):%Y%m%d}-{serial:08d}"


def bad_reviews_arrived(session: Session, reviews: Sequence[BadReview]) -> list[int]:
    """Open one work order per bad evaluation just stored (C1 makes each arrive once, so none
    has an order or a text review yet) and open the text reviews (E1); returns the new orders'
    ids. Received when rated: the order's clock starts with the rating."""
    if not reviews:
        return []
    rows = list(reviews)
    case_ids = {r.case_id for r in rows if r.case_id is not None}
    bundle_ids = {r.bundle_id for r in rows if r.case_id is None and r.bundle_id is not None}
    cases = {
        c.id: c
        for c in session.execute(
            select(
                Case.id,
                Case.bundle_id,
                Case.org_id,
                Case.region_code,
                Case.window_id,
                Case.staff_id,
                Case.line_id,
                Case.item_id,
                Case.applicant_phone_index,
                Case.applicant_id_index,
            ).where(
                (Case.id.in_(case_ids) if case_ids else Case.id.is_(None))
                | (Case.bundle_id.in_(bundle_ids) if bundle_ids else Case.id.is_(None))
            )
        )
    }
    # A bundle's overall rating goes to the organisation of the bundle's first case (C2); the
    # others are named in its timeline.
    first_of_bundle: dict[int, int] = {}
    for c in sorted(cases.values(), key=lambda c: c.id):
        if c.bundle_id is not None:
            first_of_bundle.setdefault(c.bundle_id, c.id)
    calendar = WorkCalendar.load(session)
    new_rows: list[dict[str, Any]] = []
    for r in rows:
        case_id = r.case_id if r.case_id is not None else first_of_bundle.get(r.bundle_id or 0)
        if case_id is None:
            continue
        case = cases[case_id]
        profile = policy.get_profile(name=r.profile_name)
        new_rows.append(
            _ORDER_DEFAULTS
            | {
                "order_no": order_number("CP", r.rated_at, r.id),
                "source": OrderSource.evaluation.value,
                "state": State.registered.value,
                "evaluation_id": r.id,
                "case_id": r.case_id if r.case_id is not None else case_id,
                "org_id": case.org_id,
                "region_code": case.region_code,
                "window_id": case.window_id,
                "staff_id": case.staff_id,
                "line_id": case.line_id,
                "item_id": case.item_id,
                "profile_name": profile.name,
                "profile_version": profile.version,
                # F4 (ZZ): a rater known by phone or identity number is a real-name rater.
                "real_name": case.applicant_phone_index is not None
                or case.applicant_id_index is not None,
                "received_at": r.rated_at,
                "updated_at": r.rated_at,
            }
        )
    # Core inserts, not ORM objects: a bulk's bad reviews cost three statements, and psycopg
    # prepares their fixed texts instead of parsing a new multi-row INSERT every time.
    opened = _open(session, rows, new_rows, calendar) if new_rows else []
    regions_of_cases = {case_id: c.region_code for case_id, c in cases.items()}
    regions_of_bundles = {b: cases[first].region_code for b, first in first_of_bundle.items()}
    textreview.open_for(
        session,
        [r for r in rows if textreview.needs_review(r.label_codes, r.text)],
        regions_of_cases,
        regions_of_bundles,
        now=max(r.rated_at for r in rows),
        calendar=calendar,
    )
    return [o.id for o in opened]


def _open(
    session: Session,
    rows: Sequence[BadReview],
    new_rows: list[dict[str, Any]],
    calendar: WorkCalendar,
) -> list[NewOrder]:
    """Insert the orders, their opening events and first steps with deadlines."""
    conn = session.connection()
    received = {r.id: (r.rated_at, r.profile_name) for r in rows}
    opened = []
    for row in insert_rows(conn, _ORDERS, new_rows, returning=("id", "evaluation_id")):
        rated_at, profile_name = received[row.evaluation_id]
        opened.append(NewOrder(id=row.id, received_at=rated_at, profile_name=profile_name))
    opened.sort(key=lambda o: o.id)
    insert_rows(
        conn,
        _EVENTS,
        [
            {
                "order_id": order.id,
                "at": order.received_at,
                "actor": "system",
                "party": Actor.system.value,
                "action": "opened",
                "from_state": None,
                "to_state": State.registered.value,
                "note": "“好差评”系统推送差评件，已生成差评工单",
                "data": {},
            }
            for order in opened
        ],
    )
    steps.enter_new(
        session,
        opened,
        State.registered,
        policies=[policy.get_profile(name=o.profile_name).work_order for o in opened],
        calendar=calendar,
    )
    return opened
