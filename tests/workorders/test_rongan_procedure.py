"""F5: the whole Rong'an procedure on real 2026 dates, every deadline checked against the
official calendar (调休 weekends count as working days, P2)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haochaping import sweeper
from haochaping.deadlines import service as deadlines
from haochaping.messaging.models import OutboxMessage
from haochaping.textreview.models import TextReview
from haochaping.workorders.steps import open_step
from tests.factories import make_catalog
from tests.workorders.helpers import act, bad_review, beijing, open_due, rongan_cast


def test_F5_rongan_order_received_before_national_day(session: Session) -> None:
    """Received on Wed 2026-09-30, the last working day before the 10/1-10/7 holiday; Sat
    10/10 is a make-up working day (调休)."""
    make_catalog(session)
    cast = rongan_cast(session)
    order = bad_review(session, "RA-ND-1", beijing(2026, 9, 30, 10, 0))
    assert (order.state, order.org_id is not None, order.staff_id is not None) == (
        "registered",
        True,
        True,
    )
    # The text goes to review at once (E1).
    assert session.scalar(select(func.count()).select_from(TextReview)) == 1

    # RA 附件3: registered on the transfer form the same day ("当日").
    out = act(session, cast["office"], order, "transfer", beijing(2026, 9, 30, 11, 0))
    assert out.state == "verifying"
    # RA Art.6: the rater is revisited and the review verified on the day of receipt.
    assert open_due(out) == beijing(2026, 10, 1, 0, 0)
    out = act(
        session,
        cast["office"],
        order,
        "verify",
        beijing(2026, 9, 30, 15, 0),
        verdict="true",
        cause="attitude",
        note="电话回访评价人，反映窗口人员态度生硬，已调取窗口视频",
    )
    assert out.state == "rectifying"
    # F6, RA Art.10: attitude costs the profile's points.
    assert (out.cause, out.deduction_points) == ("attitude", 2.0)
    # RA Art.5: 2 working days from the transfer: 10/8 and 10/9 (the holiday does not count).
    assert open_due(out) == beijing(2026, 10, 10, 0, 0)

    out = act(
        session,
        cast["clerk"],
        order,
        "submit_report",
        beijing(2026, 10, 9, 10, 0),
        measures="1、当面致歉\n2、开展服务礼仪培训",
        responsible_person="李四",
        report_text="经调查，窗口人员答复不耐心，情况属实。",
    )
    # RA Art.5: approved by the window's head, within the same 2 working days.
    assert out.state == "head_review" and open_due(out) == beijing(2026, 10, 10, 0, 0)
    out = act(session, cast["head"], order, "approve_report", beijing(2026, 10, 9, 16, 0))
    # RA 附件3: to the city within 4 working days of receipt: 10/8, 10/9, 10/10 (调休), 10/12.
    assert out.state == "office_check" and open_due(out) == beijing(2026, 10, 13, 0, 0)
    out = act(session, cast["office"], order, "confirm_rectification", beijing(2026, 10, 10, 9, 0))
    assert out.state == "leader_review"
    out = act(session, cast["leader"], order, "leader_approve", beijing(2026, 10, 10, 11, 0))
    assert out.state == "reporting"
    out = act(session, cast["office"], order, "report_upward", beijing(2026, 10, 12, 9, 0))
    assert out.state == "feedback"
    out = act(
        session,
        cast["office"],
        order,
        "send_feedback",
        beijing(2026, 10, 12, 10, 0),
        feedback_text="您反映的窗口服务态度问题已整改，感谢监督。",
    )
    assert out.state == "revisit"
    sms = session.scalars(select(OutboxMessage)).all()
    assert [(m.purpose, m.ref, m.phone) for m in sms] == [
        ("workorder_feedback", order.order_no, "13812348000")
    ]
    # RA Art.8: the rater is not satisfied, so the rectification reopens with a new period.
    out = act(
        session,
        cast["office"],
        order,
        "record_revisit",
        beijing(2026, 10, 12, 15, 0),
        outcome="unsatisfied",
        note="评价人认为整改不到位",
    )
    assert (out.state, out.reopened, out.rater_satisfied) == ("rectifying", 1, False)
    assert open_due(out) == beijing(2026, 10, 15, 0, 0)  # 10/13, 10/14
    out = act(
        session,
        cast["clerk"],
        order,
        "submit_report",
        beijing(2026, 10, 13, 10, 0),
        measures="窗口负责人再次上门致歉",
        responsible_person="李四",
        report_text="再次整改",
    )
    for who, action in (
        ("head", "approve_report"),
        ("office", "confirm_rectification"),
        ("leader", "leader_approve"),
        ("office", "report_upward"),
    ):
        out = act(session, cast[who], order, action, beijing(2026, 10, 13, 11, 0))
    out = act(
        session,
        cast["office"],
        order,
        "send_feedback",
        beijing(2026, 10, 13, 14, 0),
        feedback_text="整改结果已告知",
    )
    out = act(
        session,
        cast["office"],
        order,
        "record_revisit",
        beijing(2026, 10, 13, 16, 0),
        outcome="satisfied",
        note="评价人表示满意",
    )
    assert (out.state, out.rater_satisfied) == ("closed", True)
    assert out.closed_at is not None and out.actions == []
    # Every step was done in time: no overdue time anywhere; the timeline has every step.
    assert all(s.overdue_seconds == 0 for s in out.steps)
    actions = [e.action for e in out.timeline]
    assert actions[0] == "opened" and actions[-1] == "record_revisit"
    assert actions.count("submit_report") == 2
    # The sweeper finds nothing left for this order: its deadlines were cancelled.
    result = deadlines.sweep_batch(
        session=session, now=beijing(2026, 12, 31), handlers=sweeper.HANDLERS
    )
    assert "workorder_overdue" not in result.processed


def test_F5_rongan_order_straddling_the_spring_festival(session: Session) -> None:
    """Received Fri 2026-02-13; Sat 2/14 is a make-up working day, 2/15-2/23 the holiday."""
    make_catalog(session)
    cast = rongan_cast(session)
    order = bad_review(session, "RA-SF-1", beijing(2026, 2, 13, 16, 30))
    out = act(session, cast["office"], order, "transfer", beijing(2026, 2, 13, 17, 0))
    out = act(
        session,
        cast["office"],
        order,
        "verify",
        beijing(2026, 2, 13, 17, 30),
        verdict="true",
        cause="efficiency",
        note="核实属实",
    )
    # 2 working days from the transfer: 2/14 (调休 Saturday) and 2/24.
    assert open_due(out) == beijing(2026, 2, 25, 0, 0)
    out = act(
        session,
        cast["clerk"],
        order,
        "submit_report",
        beijing(2026, 2, 24, 9, 0),
        measures="优化取号流程",
        responsible_person="王五",
        report_text="排队时间过长属实",
    )
    out = act(session, cast["head"], order, "approve_report", beijing(2026, 2, 24, 10, 0))
    # 4 working days from receipt: 2/14, 2/24, 2/25, 2/26.
    assert open_due(out) == beijing(2026, 2, 27, 0, 0)


def test_F5_received_on_a_holiday_counts_from_the_next_working_day(session: Session) -> None:
    """A bad review pushed on 2026-10-03 (National Day) is registered on 10/8 ("当日" is the
    first working day, never the holiday itself)."""
    make_catalog(session)
    order = bad_review(session, "RA-HOL-1", beijing(2026, 10, 3, 9, 0))

    step = open_step(session, order.id)
    assert step is not None and step.due_at is not None
    assert step.due_at == beijing(2026, 10, 9, 0, 0)
    assert step.due_rule == "work_order.registration" and step.estimated is False
