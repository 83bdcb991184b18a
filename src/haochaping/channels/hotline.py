"""The 12345 hotline as a rating channel (D3, D4): the platform posts the caller's key press
for a case; it rates the case's latest open occasion with the phone channel (D5 code 6), and
the rater gets a text with the link to the detailed page, to add labels and text (C6 follow-up)
or rate what is left."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.cases import service as cases
from haochaping.cases.models import OccasionStatus
from haochaping.channels.sms import SIGN, addressee, fit_text, public_link
from haochaping.errors import DomainError, InvalidInput
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.models import Channel
from haochaping.evaluations.schemas import EvaluationIn, EvaluationOut
from haochaping.messaging import service as messaging

HOTLINE_LINK = "hotline_link"


@dataclass(frozen=True)
class HotlineRating:
    evaluation: EvaluationOut
    # queued, opted_out, no_phone or link_closed: what became of the follow-up text.
    sms: str


def rate_by_key(
    *,
    session: Session,
    case_no: str,
    key: int,
    text: str | None,
    scope: Scope,
    now: datetime,
) -> HotlineRating:
    """Store the key press (1..5, 5 = 非常满意) as the evaluation of the case's latest open
    occasion and queue the follow-up text. A bad review without a reason (B6) is refused, and
    the rater is sent the link to give the reason on the page (the refusal says so)."""
    occasion = cases.find_occasion(session=session, case_no=case_no, stage=None, scope=scope)
    try:
        data = EvaluationIn.model_validate(
            {"occasion_id": occasion.id, "level": key, "text": text, "channel": Channel.phone}
        )
    except ValidationError as exc:  # the API's own schema makes this unreachable from there
        raise InvalidInput("invalid_request", "请求内容不符合要求，请检查后重试") from exc
    try:
        with session.begin_nested():
            stored = evaluations.submit(session=session, data=data, now=now, scope=scope)
    except DomainError as exc:
        if exc.code != "bad_review_reason_required":
            raise
        sms = _text(
            session,
            occasion.id,
            now,
            SIGN + "您通过12345热线对“{title}”给出了差评，请点击链接选择原因完成评价：",
        )
        raise InvalidInput(
            "bad_review_reason_required",
            "差评须说明原因（选择评价内容或填写意见）。"
            + ("已向办事人发送评价链接，请其在页面上完成评价。" if sms == "queued" else ""),
            details={"level": key, "occasion_id": occasion.id, "sms": sms},
        ) from exc
    sms = _text(
        session,
        _link_target(session, case_no, occasion.id, scope, now),
        now,
        SIGN + "感谢您通过12345热线评价“{title}”。如需补充意见或评价其他环节，请点击",
    )
    return HotlineRating(evaluation=stored, sms=sms)


def _link_target(session: Session, case_no: str, rated_id: int, scope: Scope, now: datetime) -> int:
    """The occasion the follow-up link opens: another occasion of the case still open for
    rating (a 承诺件's acceptance…), else the one just rated, for a follow-up (C6)."""
    case = cases.get_case(session=session, case_no=case_no, scope=scope)
    own, shared = cases.case_occasions(session=session, case=case)
    waiting = [
        o
        for o in (shared if case.bundle_id is not None else own)
        if o.id != rated_id
        and o.status == OccasionStatus.open.value
        and o.opens_at <= now <= o.rate_until
    ]
    return min(waiting, key=lambda o: o.opens_at).id if waiting else rated_id


def _text(session: Session, occasion_id: int, now: datetime, template: str) -> str:
    """Queue the text with the occasion's link; opted-out phones get no unsolicited text."""
    to = addressee(session=session, occasion_id=occasion_id)
    if not to.phone:
        return "no_phone"
    if messaging.is_opted_out(session=session, phone=to.phone):
        return "opted_out"
    url = public_link(session=session, occasion_id=occasion_id, now=now)
    if url is None:
        return "link_closed"
    messaging.enqueue(
        session=session,
        phone=to.phone,
        text=fit_text(template + url, to.title),
        purpose=HOTLINE_LINK,
        ref=str(occasion_id),
        now=now,
        occasion_id=occasion_id,
    )
    return "queued"
