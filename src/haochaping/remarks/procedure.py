"""The life of a 综合点评 as data: statuses, actions, and the one ``transition`` that moves a
remark, stamps the time and writes the event row. Anything not in ``TRANSITIONS`` is refused
with ``IllegalTransition`` (409).

    received --route--> routed --answer--> answered --publish--> published   (G1, profile)
        |                 ^  |                 |
        |                 +--+ (re-route)      +--close--> closed (answered, not published)
        +--close--> closed (not admissible: empty, duplicate, abusive)
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from haochaping.errors import Conflict
from haochaping.remarks.models import Remark, RemarkEvent, RemarkStatus


class RemarkAction(StrEnum):
    submit = "submit"
    route = "route"
    answer = "answer"
    publish = "publish"
    close = "close"
    # Not a transition: the sweeper records that the answer deadline passed.
    overdue = "overdue"


STATUS_NAMES: dict[str, str] = {
    RemarkStatus.received.value: "已受理，待分办",
    RemarkStatus.routed.value: "已转交承办单位，待答复",
    RemarkStatus.answered.value: "已答复",
    RemarkStatus.published.value: "已答复并公开",
    RemarkStatus.closed.value: "已办结",
}

ACTION_NAMES: dict[str, str] = {
    RemarkAction.submit.value: "提交",
    RemarkAction.route.value: "分类并转交承办单位",
    RemarkAction.answer.value: "答复",
    RemarkAction.publish.value: "公开",
    RemarkAction.close.value: "办结（不公开）",
    RemarkAction.overdue.value: "超过答复期限",
}

# (from status, action) -> to status.
TRANSITIONS: dict[tuple[RemarkStatus, RemarkAction], RemarkStatus] = {
    (RemarkStatus.received, RemarkAction.route): RemarkStatus.routed,
    (RemarkStatus.routed, RemarkAction.route): RemarkStatus.routed,
    (RemarkStatus.routed, RemarkAction.answer): RemarkStatus.answered,
    (RemarkStatus.answered, RemarkAction.publish): RemarkStatus.published,
    (RemarkStatus.answered, RemarkAction.close): RemarkStatus.closed,
    (RemarkStatus.received, RemarkAction.close): RemarkStatus.closed,
}

OPEN_STATUSES = frozenset({RemarkStatus.received.value, RemarkStatus.routed.value})


class IllegalTransition(Conflict):
    """A step the remark's status does not allow (409 ``remark_transition_illegal``)."""

    def __init__(self, status: str, action: RemarkAction) -> None:
        super().__init__(
            "remark_transition_illegal",
            f"该意见建议当前状态为“{STATUS_NAMES.get(status, status)}”，"
            f"不能进行“{ACTION_NAMES[action.value]}”操作",
            details={"status": status, "action": action.value, "allowed": allowed(status)},
        )


def allowed(status: str) -> list[str]:
    """The actions the status allows, in table order."""
    return [a.value for (s, a) in TRANSITIONS if s.value == status]


def event(
    session: Session,
    remark: Remark,
    *,
    at: datetime,
    actor: str,
    action: RemarkAction,
    from_status: str | None = None,
    to_status: str | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> RemarkEvent:
    row = RemarkEvent(
        remark_id=remark.id,
        at=at,
        actor=actor,
        action=action.value,
        from_status=from_status,
        to_status=to_status,
        note=note,
        data=data or {},
    )
    session.add(row)
    return row


def transition(
    session: Session,
    remark: Remark,
    action: RemarkAction,
    *,
    at: datetime,
    actor: str,
    note: str | None = None,
    data: dict[str, Any] | None = None,
) -> RemarkStatus:
    """Move ``remark`` by ``action`` or refuse with ``IllegalTransition``; writes the event."""
    try:
        current = RemarkStatus(remark.status)
    except ValueError as exc:  # a status no release ever wrote: refuse rather than guess
        raise IllegalTransition(remark.status, action) from exc
    target = TRANSITIONS.get((current, action))
    if target is None:
        raise IllegalTransition(remark.status, action)
    remark.status = target.value
    remark.updated_at = at
    event(
        session,
        remark,
        at=at,
        actor=actor,
        action=action,
        from_status=current.value,
        to_status=target.value,
        note=note,
        data=data,
    )
    session.flush()
    return target
