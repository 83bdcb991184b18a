"""Builders for work-order tests: real officials with role grants, bad reviews on given dates."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.principal import Principal
from haochaping.access.rules import principal_for_user
from haochaping.accounts import service as accounts
from haochaping.clock import BEIJING
from haochaping.workorders import service
from haochaping.workorders.models import WorkOrder
from haochaping.workorders.schemas import ActionIn, OrderOut
from tests.factories import occasions_of, rate, register


def beijing(*args: int) -> datetime:
    return datetime(*args, tzinfo=BEIJING)  # type: ignore[misc]


def official(session: Session, username: str, *grants: str) -> Principal:
    """A real account with ``grants`` (``supervisor:450224``, ``org_manager:O1``...)."""
    user, _ = accounts.create_user(
        session, username=username, display_name=username, now=beijing(2026, 1, 1), actor="cli:t"
    )
    for spec in grants:
        role, scope = accounts.parse_grant_spec(spec)
        accounts.grant_role(
            session, user=user, role=role, scope_code=scope, now=beijing(2026, 1, 1), actor="cli:t"
        )
    session.flush()
    return principal_for_user(session, user_id=user.id, username=username, ip="127.0.0.1")


def rongan_cast(session: Session) -> dict[str, Principal]:
    """The parties of RA's procedure for organisation O1 (融安县公安局), window W1, clerk S1."""
    return {
        "office": official(session, "zgb-ra", "supervisor:450224"),
        "leader": official(session, "ld-ra", "leader:450224"),
        "head": official(session, "jg-o1", "org_manager:O1"),
        "clerk": official(session, "ck-s1", "window_staff:S1"),
        "city": official(session, "zgb-lz", "supervisor:450200"),
        "other_clerk": official(session, "ck-s2", "window_staff:S2"),
        "other_office": official(session, "zgb-rs", "supervisor:450225"),
    }


def bad_review(
    session: Session,
    case_no: str,
    when: datetime,
    *,
    item: str = "I-IMM",
    staff: str = "S1",
    level: int = 1,
    **case: Any,
) -> WorkOrder:
    """A case handled at ``when`` and rated bad at once: the order it opened."""
    c = register(
        session,
        case_no,
        item,
        now=when,
        staff_code=staff,
        accepted_at=when,
        completed_at=when,
        **case,
    )
    occ = occasions_of(session, c)[0]
    out = rate(session, occ.id, level, now=when, labels=["attitude.3"], text="窗口态度生硬")
    order = session.scalar(select(WorkOrder).where(WorkOrder.evaluation_id == out.id))
    assert order is not None
    return order


def act(
    session: Session,
    who: Principal,
    order: WorkOrder | str,
    action: str,
    when: datetime,
    **fields: Any,
) -> OrderOut:
    order_no = order if isinstance(order, str) else order.order_no
    data = ActionIn.model_validate({"action": action, **fields})
    return service.perform(session=session, principal=who, order_no=order_no, data=data, now=when)


def open_due(out: OrderOut) -> datetime | None:
    """The deadline of the order's open step, in Beijing time."""
    step = next(s for s in out.steps if s.completed_at is None)
    return step.due_at.astimezone(BEIJING) if step.due_at else None
