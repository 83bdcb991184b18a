"""C5: an occasion still unrated ``reminder_delay`` after completion gets one SMS with its link,
scheduled as a deadline row when the occasion is created; rated occasions and opted-out phones
get nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping import sweeper
from haochaping.cases.occasions import REMINDER_KIND
from haochaping.channels import sms
from haochaping.deadlines import service as deadlines
from haochaping.deadlines.models import Deadline
from haochaping.messaging import service as messaging
from haochaping.messaging.models import OptOut, OutboxMessage
from tests.channels.fake_gateway import BASE_URL, sms_settings
from tests.factories import T0, make_catalog, occasions_of, rate, register

__all__ = ["sms_settings"]

OTHER_PHONE = "13955556666"


def _sweep(session: Session, hours: float) -> None:
    deadlines.sweep_batch(
        session=session, now=T0 + timedelta(hours=hours), handlers=sweeper.HANDLERS
    )


def _reminders(session: Session) -> list[OutboxMessage]:
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.purpose == sms.REMINDER)
            .order_by(OutboxMessage.id)
        )
    )


def test_reminder_is_scheduled_with_the_occasion_and_sent_once(
    session: Session, sms_settings: None
) -> None:
    make_catalog(session)
    case = register(session, "SMS-R1")
    (occasion,) = occasions_of(session, case)
    row = session.scalar(
        select(Deadline).where(Deadline.kind == REMINDER_KIND, Deadline.subject_id == occasion.id)
    )
    # The profile's reminder_delay (national 24 hours, C5 / GD Art.14) after completion.
    assert row is not None and row.due_at == T0 + timedelta(hours=24)

    _sweep(session, 23)
    assert _reminders(session) == []
    _sweep(session, 25)
    (reminder,) = _reminders(session)
    assert reminder.occasion_id == occasion.id and reminder.phone == "13812348000"
    assert reminder.phone_index == messaging.phone_index("13812348000")
    assert f"{BASE_URL}/r/" in reminder.text and "via=sms" in reminder.text
    assert "回复5非常满意" in reminder.text and "TD退订" in reminder.text
    assert "事项I-IMM" in reminder.text and len(reminder.text) <= messaging.MAX_TEXT
    # Once per occasion: later sweeps and a second run of the task send nothing more.
    _sweep(session, 48)
    sms.send_reminder(session, occasion.id, T0 + timedelta(hours=49))
    assert len(_reminders(session)) == 1


def test_no_reminder_for_a_rated_occasion(session: Session, sms_settings: None) -> None:
    make_catalog(session)
    (occasion,) = occasions_of(session, register(session, "SMS-R2"))
    rate(session, occasion.id, 5, now=T0 + timedelta(hours=2))
    _sweep(session, 25)
    assert _reminders(session) == []


def test_no_reminder_for_an_opted_out_phone(session: Session, sms_settings: None) -> None:
    make_catalog(session)
    register(session, "SMS-R3")
    messaging.opt_out(session=session, phone="+86 138-1234-8000", now=T0)
    # The opt-out is kept as the keyed index only, never the phone in clear (C9).
    (stored,) = session.scalars(select(OptOut)).all()
    assert stored.phone_index == messaging.phone_index("13812348000")
    _sweep(session, 25)
    assert _reminders(session) == []


def test_reminder_only_for_the_completion_occasion(session: Session, sms_settings: None) -> None:
    make_catalog(session)
    # A promised case accepted at T0, completed a day later: only completion reminds (C5).
    case = register(
        session,
        "SMS-R4",
        "I-PRO",
        now=T0 + timedelta(days=1),
        completed_at=T0 + timedelta(days=1),
        applicant={"type": "person", "name": "李四", "phone": OTHER_PHONE},
    )
    accept, complete = sorted(occasions_of(session, case), key=lambda o: o.opens_at)
    _sweep(session, 24 + 25)
    (reminder,) = _reminders(session)
    assert reminder.occasion_id == complete.id != accept.id


def test_no_reminder_without_a_phone(session: Session, sms_settings: None) -> None:
    make_catalog(session)
    register(session, "SMS-R5", applicant={"type": "person", "name": "赵六"})
    _sweep(session, 25)
    assert _reminders(session) == []


def test_a_bundles_overall_reminder_goes_to_the_member_completed_last(
    session: Session, sms_settings: None
) -> None:
    make_catalog(session)
    common = {"bundle_no": "B-SMS", "bundle_name": "开办企业一件事"}
    register(session, "B-SMS-a", approved_at=T0, delivered_at=T0, **common)
    b = register(
        session,
        "B-SMS-b",
        "I-O2",
        now=T0 + timedelta(hours=1),
        approved_at=T0,
        delivered_at=T0,
        completed_at=T0 + timedelta(hours=1),
        applicant={"type": "person", "name": "李四", "phone": OTHER_PHONE},
        **common,
    )
    overall = next(o for o in occasions_of(session, b) if o.stage == "overall")
    # The member completed later moved the overall occasion and its reminder with it.
    _sweep(session, 24.5)
    assert _reminders(session) == []
    _sweep(session, 25.5)
    (reminder,) = _reminders(session)
    assert reminder.occasion_id == overall.id and reminder.phone == OTHER_PHONE
    assert "开办企业一件事" in reminder.text
