"""D4: a rater's SMS reply, posted by the gateway, rates the occasion the latest reminder to that
phone was about (through the evaluation service: B4/B6/C1/C8); late, unknown and "TD" replies
are answered too. Every reply gets an answer through the outbox."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from haochaping import sweeper
from haochaping.channels import sms
from haochaping.channels.sms_gateway import signed_headers
from haochaping.evaluations.models import Evaluation
from haochaping.messaging.models import InboundMessage, OptOut, OutboxMessage
from haochaping.workorders.models import WorkOrder
from tests.channels.fake_gateway import BASE_URL, KEY, SmsWorld, sms_settings, sms_world
from tests.factories import make_catalog, occasions_of, register

__all__ = ["sms_settings", "sms_world"]

PHONE = "13812348000"


def _case_with_reminder(world: SmsWorld, case_no: str, phone: str = PHONE) -> int:
    """A case completed at T0 whose reminder went out at the world's clock; its occasion id."""
    with world.db.transaction() as session:
        case = register(
            session, case_no, applicant={"type": "person", "name": "张三丰", "phone": phone}
        )
        (occasion,) = occasions_of(session, case)
        sms.send_reminder(session, occasion.id, world.clock())
        return occasion.id


def _catalog(world: SmsWorld) -> None:
    with world.db.transaction() as session:
        make_catalog(session)


def _evaluation(world: SmsWorld, occasion_id: int) -> Evaluation | None:
    with world.db.transaction() as session:
        return session.scalar(select(Evaluation).where(Evaluation.occasion_id == occasion_id))


def _answer(world: SmsWorld, reply_id: int) -> OutboxMessage:
    with world.db.transaction() as session:
        message = session.get(OutboxMessage, reply_id)
        assert message is not None
        return message


def test_a_digit_rates_the_reminded_occasion_with_the_sms_channel(sms_world: SmsWorld) -> None:
    _catalog(sms_world)
    older = _case_with_reminder(sms_world, "SR-1")
    sms_world.clock.advance(timedelta(hours=1))
    latest = _case_with_reminder(sms_world, "SR-2")
    r = sms_world.gateway.reply(PHONE, "５")  # full-width digits count
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outcome"] == "rated" and body["occasion_id"] == latest
    evaluation = _evaluation(sms_world, latest)
    assert evaluation is not None
    assert (evaluation.level, evaluation.channel, evaluation.is_default) == (5, 7, False)
    assert _evaluation(sms_world, older) is None
    answer = _answer(sms_world, body["reply_id"])
    assert answer.purpose == sms.REPLY and answer.phone == PHONE
    assert "感谢您的评价" in answer.text and "非常满意" in answer.text
    assert f"{BASE_URL}/r/" in answer.text


def test_a_bad_review_with_its_reason_is_stored_and_opens_a_work_order(
    sms_world: SmsWorld,
) -> None:
    _catalog(sms_world)
    occasion_id = _case_with_reminder(sms_world, "SR-3")
    body = sms_world.gateway.reply(PHONE, "2，排队等了两个小时").json()
    assert body["outcome"] == "rated"
    evaluation = _evaluation(sms_world, occasion_id)
    assert evaluation is not None
    assert (evaluation.level, evaluation.is_bad, evaluation.text) == (2, True, "排队等了两个小时")
    with sms_world.db.transaction() as session:
        assert (
            session.scalar(select(WorkOrder).where(WorkOrder.evaluation_id == evaluation.id))
            is not None
        )


def test_a_bad_review_without_reason_asks_for_it_and_stores_nothing(sms_world: SmsWorld) -> None:
    _catalog(sms_world)
    occasion_id = _case_with_reminder(sms_world, "SR-4")
    body = sms_world.gateway.reply(PHONE, "1").json()
    assert body["outcome"] == "reason_required" and body["evaluation_id"] is None
    assert _evaluation(sms_world, occasion_id) is None
    answer = _answer(sms_world, body["reply_id"]).text
    assert "非常不满意" in answer and "原因" in answer
    # The rater answers with the reason (B6): now it is stored.
    body = sms_world.gateway.reply(PHONE, "1 工作人员态度生硬").json()
    assert body["outcome"] == "rated"
    evaluation = _evaluation(sms_world, occasion_id)
    assert evaluation is not None and evaluation.text == "工作人员态度生硬"


def test_unknown_replies_get_the_help_text(sms_world: SmsWorld) -> None:
    _catalog(sms_world)
    occasion_id = _case_with_reminder(sms_world, "SR-5")
    for text in ("你好", "12", "6", "", "评价5"):
        body = sms_world.gateway.reply(PHONE, text).json()
        assert body["outcome"] == "help", text
        assert _answer(sms_world, body["reply_id"]).text == sms.HELP
    assert _evaluation(sms_world, occasion_id) is None
    # Everything the rater sent is kept (nothing a citizen sends is lost).
    with sms_world.db.transaction() as session:
        kept = session.scalars(select(InboundMessage.text).order_by(InboundMessage.id)).all()
    assert kept == ["你好", "12", "6", "", "评价5"]


def test_a_late_reply_gets_a_polite_refusal(sms_world: SmsWorld) -> None:
    _catalog(sms_world)
    occasion_id = _case_with_reminder(sms_world, "SR-6")
    # Past the occasion's window (rongan: 7 natural days, then the default is written).
    sms_world.clock.advance(timedelta(days=8))
    body = sms_world.gateway.reply(PHONE, "4").json()
    assert body["outcome"] == "late"
    assert _answer(sms_world, body["reply_id"]).text == sms.LATE
    assert "很抱歉" in sms.LATE and _evaluation(sms_world, occasion_id) is None


def test_a_reply_after_the_default_rating_is_late_too(sms_world: SmsWorld) -> None:
    _catalog(sms_world)
    occasion_id = _case_with_reminder(sms_world, "SR-7")
    sms_world.clock.advance(timedelta(days=8))
    sweeper.run_sweep(sms_world.db, sms_world.clock())
    default = _evaluation(sms_world, occasion_id)
    assert default is not None and default.is_default
    assert sms_world.gateway.reply(PHONE, "4").json()["outcome"] == "late"


def test_a_second_rating_is_refused_as_already_rated(sms_world: SmsWorld) -> None:
    _catalog(sms_world)
    _case_with_reminder(sms_world, "SR-8")
    assert sms_world.gateway.reply(PHONE, "5").json()["outcome"] == "rated"
    body = sms_world.gateway.reply(PHONE, "3").json()
    assert body["outcome"] == "already_rated"
    assert "已经评价过" in _answer(sms_world, body["reply_id"]).text


def test_td_opts_the_phone_out_of_reminders(sms_world: SmsWorld) -> None:
    _catalog(sms_world)
    _case_with_reminder(sms_world, "SR-9")
    body = sms_world.gateway.reply(PHONE, " td ").json()
    assert body["outcome"] == "opted_out"
    assert _answer(sms_world, body["reply_id"]).text == sms.OPTED_OUT
    with sms_world.db.transaction() as session:
        (opt_out,) = session.scalars(select(OptOut)).all()
    assert PHONE not in opt_out.phone_index
    # The next occasion of that phone gets no reminder.
    _case_with_reminder(sms_world, "SR-10")
    assert len(sms_world.outbox(sms.REMINDER)) == 1


def test_a_reply_without_any_reminder_is_answered(sms_world: SmsWorld) -> None:
    _catalog(sms_world)
    body = sms_world.gateway.reply("13100001111", "5").json()
    assert body["outcome"] == "no_occasion"
    assert _answer(sms_world, body["reply_id"]).phone == "13100001111"


def test_a_retried_callback_is_answered_once(sms_world: SmsWorld) -> None:
    _catalog(sms_world)
    _case_with_reminder(sms_world, "SR-11")
    first = sms_world.gateway.reply(PHONE, "4", msg_id="gw-77").json()
    again = sms_world.gateway.reply(PHONE, "4", msg_id="gw-77").json()
    assert again == {**first, "duplicate": True}
    assert len(sms_world.outbox(sms.REPLY)) == 1


def test_a_malformed_callback_stores_nothing(sms_world: SmsWorld) -> None:
    body = b'{"msg_id": "m-1", "from": "not a phone", "text": "5"}'
    headers = {"content-type": "application/json", **signed_headers(KEY, body, sms_world.clock())}
    r = sms_world.client.post("/api/v1/sms/inbound", content=body, headers=headers)
    assert r.status_code == 422 and r.json()["code"] == "invalid_request"
    with sms_world.db.transaction() as session:
        assert session.scalars(select(InboundMessage)).all() == []
