"""SMS as a rating channel (C5, D1, D3, D4): the reminder with the link when an occasion is
still unrated after the profile's ``reminder_delay``, and the rater's replies: "1"-"5" with an
optional reason become the evaluation of the occasion the latest reminder was about (through
the evaluation service, so B4/B6/C1/C8 apply), "TD" opts the phone out, anything else gets the
help text. Every reply is answered through the outbox."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.cases import occasions as occ
from haochaping.cases import service as cases
from haochaping.cases.models import Bundle, Case, OccasionStatus
from haochaping.catalog.models import ServiceItem
from haochaping.channels import links
from haochaping.config import get_settings
from haochaping.errors import DomainError
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.models import Channel
from haochaping.evaluations.schemas import EvaluationIn
from haochaping.messaging import service as messaging
from haochaping.messaging.models import InboundMessage
from haochaping.messaging.service import MAX_TEXT
from haochaping.policy import service as policy

# The deadline kind of the reminder (scheduled with the occasion's window, cases.service).
REMINDER_KIND = occ.REMINDER_KIND
REMINDER = "rating_reminder"
REPLY = "sms_reply"

SIGN = "【政务服务好差评】"
HELP = (
    SIGN + "回复数字评价本次服务：5非常满意 4满意 3基本满意 2不满意 1非常不满意，"
    "差评请在数字后附原因，如“2 排队时间长”。回复TD退订。"
)
LATE = (
    SIGN + "很抱歉，该办件的评价期限已过，无法再评价。"
    "如有意见建议，可拨打12345政务服务便民热线反映，感谢您的支持！"
)
NO_OCCASION = (
    SIGN + "暂未找到需要您评价的办件，感谢您的关注。如有意见建议，可拨打12345政务服务便民热线反映。"
)
OPTED_OUT = SIGN + "您已退订政务服务评价提醒短信，今后不再向您发送提醒。感谢您的支持！"
MAX_REASON = 1000
_OPT_OUT_WORDS = {"TD", "退订"}
# "5", "2 排队太久", "2，排队太久", "1:态度差" (full-width digits and marks are folded first);
# "12" or "55" is not a rating.
_RATING = re.compile(r"^([1-5])(?![0-9])[\s,，.。、:：;；!！\-]*(.*)$", re.DOTALL)
_LATE_CODES = {"rating_window_closed", "supplementary_window_closed"}


def public_link(*, session: Session, occasion_id: int, now: datetime) -> str | None:
    """The full address of the occasion's rating page for a text, or None once the link could
    no longer work."""
    try:
        path = links.occasion_url(
            session=session, occasion_id=occasion_id, now=now, via=links.Via.sms
        )
    except DomainError:
        return None
    return get_settings().public_base_url.rstrip("/") + path


@dataclass(frozen=True)
class Addressee:
    phone: str | None
    title: str


def addressee(*, session: Session, occasion_id: int) -> Addressee:
    """Whom a text about the occasion goes to (the applicant; for a 一件事 bundle the member
    completed last) and what the service is called in it."""
    target = cases.rating_targets(session=session, occasion_ids=[occasion_id]).get(occasion_id)
    if target is None:
        return Addressee(None, "")
    if target.case_id is not None:
        case = session.get(Case, target.case_id)
        if case is None:
            return Addressee(None, "")
        item = session.get(ServiceItem, case.item_id)
        return Addressee(case.applicant_phone, item.name if item else case.case_no)
    members = session.scalars(
        select(Case).where(Case.bundle_id == target.bundle_id).order_by(Case.id)
    ).all()
    with_phone = [m for m in members if m.applicant_phone]
    bundle = session.get(Bundle, target.bundle_id) if target.bundle_id else None
    title = (bundle.name or bundle.bundle_no) if bundle else ""
    if not with_phone:
        return Addressee(None, title)
    latest = max(with_phone, key=lambda m: (m.completed_at or m.accepted_at or m.created_at, m.id))
    return Addressee(latest.applicant_phone, title)


def fit_text(template: str, title: str) -> str:
    """``template`` with ``{title}`` filled, the title shortened so that the text fits one
    outbox message (the link is never cut)."""
    room = MAX_TEXT - len(template.replace("{title}", ""))
    if len(title) > room:
        title = title[: max(room - 1, 0)] + "…"
    return template.replace("{title}", title)


def send_reminder(session: Session, occasion_id: int, now: datetime) -> None:
    """Sweeper task (C5): an occasion still unrated ``reminder_delay`` after completion gets one
    text with its link, unless the phone opted out, there is no phone or the link has died."""
    target = cases.rating_targets(session=session, occasion_ids=[occasion_id]).get(occasion_id)
    if target is None or target.status != OccasionStatus.open.value or now > target.rate_until:
        return
    if messaging.purpose_sent_for(session=session, occasion_id=occasion_id, purpose=REMINDER):
        return
    to = addressee(session=session, occasion_id=occasion_id)
    if not to.phone or messaging.is_opted_out(session=session, phone=to.phone):
        return
    url = public_link(session=session, occasion_id=occasion_id, now=now)
    if url is None:
        return
    text = fit_text(
        SIGN + "您办理的“{title}”已办结，请评价：回复5非常满意 4满意 3基本满意 2不满意 "
        "1非常不满意（差评请附原因），或点击" + url + " 回复TD退订",
        to.title,
    )
    messaging.enqueue(
        session=session,
        phone=to.phone,
        text=text,
        purpose=REMINDER,
        ref=str(occasion_id),
        now=now,
        occasion_id=occasion_id,
    )


@dataclass(frozen=True)
class ReplyOutcome:
    outcome: str
    occasion_id: int | None = None
    evaluation_id: int | None = None
    reply_id: int | None = None
    duplicate: bool = False


def handle_reply(
    *, session: Session, gateway_id: str, phone: str, text: str, now: datetime
) -> ReplyOutcome:
    """A rater's text (D4): kept as it came, acted on, and answered through the outbox. The
    same gateway message id twice is answered once."""
    seen = messaging.find_inbound(session=session, gateway_id=gateway_id)
    if seen is not None:
        return _outcome_of(seen, duplicate=True)
    inbound = messaging.record_inbound(
        session=session, gateway_id=gateway_id, phone=phone, text=text, now=now
    )
    answer, occasion_id = _act(session, inbound, phone, text, now)
    reply = messaging.enqueue(
        session=session,
        phone=phone,
        text=answer,
        purpose=REPLY,
        ref=f"in:{inbound.id}",
        now=now,
        occasion_id=occasion_id,
    )
    inbound.reply_id = reply.id
    session.flush()
    return _outcome_of(inbound)


def _outcome_of(inbound: InboundMessage, *, duplicate: bool = False) -> ReplyOutcome:
    return ReplyOutcome(
        outcome=inbound.outcome,
        occasion_id=inbound.occasion_id,
        evaluation_id=inbound.evaluation_id,
        reply_id=inbound.reply_id,
        duplicate=duplicate,
    )


def _act(
    session: Session, inbound: InboundMessage, phone: str, text: str, now: datetime
) -> tuple[str, int | None]:
    """Do what the text asks; returns the answer and the occasion it is about."""
    folded = unicodedata.normalize("NFKC", text).strip()
    if folded.upper() in _OPT_OUT_WORDS:
        messaging.opt_out(session=session, phone=phone, now=now)
        inbound.outcome = "opted_out"
        return OPTED_OUT, None
    match = _RATING.match(folded)
    if match is None:
        inbound.outcome = "help"
        return HELP, None
    level, reason = int(match.group(1)), match.group(2).strip()[:MAX_REASON] or None
    reminder = messaging.latest_about(session=session, phone=phone, purpose=REMINDER)
    if reminder is None or reminder.occasion_id is None:
        inbound.outcome = "no_occasion"
        return NO_OCCASION, None
    occasion_id = reminder.occasion_id
    inbound.occasion_id = occasion_id
    return _rate(session, inbound, occasion_id, level, reason, now), occasion_id


def _rate(
    session: Session,
    inbound: InboundMessage,
    occasion_id: int,
    level: int,
    reason: str | None,
    now: datetime,
) -> str:
    target = cases.rating_targets(session=session, occasion_ids=[occasion_id]).get(occasion_id)
    profile = policy.get_profile(name=target.profile_name) if target else None
    level_name = profile.levels[level].name if profile else str(level)
    title = addressee(session=session, occasion_id=occasion_id).title
    try:
        data = EvaluationIn.model_validate(
            {"occasion_id": occasion_id, "level": level, "text": reason, "channel": Channel.sms}
        )
        with session.begin_nested():
            stored = evaluations.submit(session=session, data=data, now=now, scope=Scope.all())
    except ValidationError:
        inbound.outcome = "help"
        return HELP
    except DomainError as exc:
        return _refusal(session, inbound, exc, occasion_id, level, level_name, now)
    inbound.outcome = "rated"
    inbound.evaluation_id = stored.id
    url = public_link(session=session, occasion_id=occasion_id, now=now)
    more = f"如需补充意见，请点击{url}" if url else ""
    return fit_text(
        SIGN + "感谢您的评价！您对“{title}”的评价（" + level_name + "）已记录。" + more, title
    )


def _refusal(
    session: Session,
    inbound: InboundMessage,
    exc: DomainError,
    occasion_id: int,
    level: int,
    level_name: str,
    now: datetime,
) -> str:
    status = None
    target = cases.rating_targets(session=session, occasion_ids=[occasion_id]).get(occasion_id)
    if target is not None:
        status = target.status
    if exc.code in _LATE_CODES or (
        exc.code == "already_evaluated"
        and status in (OccasionStatus.defaulted.value, OccasionStatus.expired.value)
    ):
        inbound.outcome = "late"
        return LATE
    if exc.code == "bad_review_reason_required":
        # B6: nothing stored; the rater is asked for the reason and may simply answer again.
        inbound.outcome = "reason_required"
        return (
            SIGN + f"您的评价为“{level_name}”，请告诉我们原因以便改进："
            f"回复数字加原因，例如“{level} 排队时间长”。"
        )
    if exc.code == "already_evaluated":
        inbound.outcome = "already_rated"
        url = public_link(session=session, occasion_id=occasion_id, now=now)
        more = f"如需补充意见，请点击{url}" if url else "感谢您的支持！"
        return SIGN + "该办件已经评价过，每个环节只能评价一次。" + more
    inbound.outcome = exc.code[:40]
    return (SIGN + "很抱歉，您的评价未能提交：" + exc.message)[:MAX_TEXT]
