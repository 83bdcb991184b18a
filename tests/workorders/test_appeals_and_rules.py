"""F1-F5: appeals to revoke, the state machine's refusals, who may take which step, profile
variants (GX, HB, ZZ), complaints, deadlines swept once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haochaping import sweeper
from haochaping.access.scope import Scope
from haochaping.db import Database
from haochaping.deadlines import service as deadlines
from haochaping.errors import DomainError, InvalidInput, NotFound
from haochaping.evaluations.models import Evaluation
from haochaping.policy.loader import load_profile
from haochaping.scores import service as scores
from haochaping.scores.schemas import Dimension
from haochaping.workorders import procedure, service
from haochaping.workorders.models import WorkOrder, WorkOrderEvent, WorkOrderStep
from haochaping.workorders.procedure import Action, IllegalTransition, State
from haochaping.workorders.schemas import ComplaintIn
from tests.factories import make_catalog
from tests.workorders.helpers import act, bad_review, beijing, official, open_due, rongan_cast

DAY = beijing(2026, 11, 10, 9, 0)  # a Tuesday


def _staff_score(session: Session, code: str = "S1") -> tuple[int, float | None]:
    rows = scores.compute_scores(session=session, dimension=Dimension.staff, access=Scope.all())
    row = next(r for r in rows if r.code == code)
    return row.all.evaluations, row.all.average


def _to_appeal(session: Session, cast: dict[str, object], case_no: str) -> WorkOrder:
    order = bad_review(session, case_no, DAY)
    act(session, cast["office"], order, "transfer", DAY)  # type: ignore[arg-type]
    act(
        session,
        cast["office"],  # type: ignore[arg-type]
        order,
        "verify",
        DAY,
        verdict="mistaken",
        note="评价人表示误点了“非常不满意”",
    )
    return order


def test_F5_upheld_appeal_revokes_the_evaluation_from_scores_but_keeps_it(
    session: Session,
) -> None:
    make_catalog(session)
    cast = rongan_cast(session)
    order = _to_appeal(session, cast, "AP-UP")
    assert _staff_score(session) == (1, 0.0)
    out = act(session, cast["clerk"], order, "file_appeal", DAY, note="误评，附评价人说明")
    assert out.state == "appeal_check"
    # RA Art.9: the office checks it the same day.
    assert open_due(out) == beijing(2026, 11, 11, 0, 0)
    out = act(session, cast["office"], order, "check_appeal", DAY, approved=True, note="属实")
    assert out.state == "appeal_leader"
    out = act(session, cast["leader"], order, "approve_appeal", DAY, approved=True)
    assert out.state == "appeal_decision"
    # The county office cannot decide its own appeal: the city office does (RA Art.9).
    with pytest.raises(service.NotYourStep):
        act(session, cast["office"], order, "decide_appeal", DAY, approved=True, note="x")
    out = act(session, cast["city"], order, "decide_appeal", DAY, approved=True, note="同意撤销")
    assert out.state == "revoked" and out.closed_at is not None
    assert out.evaluation is not None and out.evaluation.revoked_reason == "同意撤销"
    assert out.deduction_points == 0
    # Out of every score (B2), still in the record.
    rows = scores.compute_scores(session=session, dimension=Dimension.staff, access=Scope.all())
    assert [r.code for r in rows if r.code == "S1"] == []
    e = session.get(Evaluation, order.evaluation_id)
    assert e is not None and e.level == 1 and e.revoked_at is not None


def test_F5_rejected_appeal_returns_to_rectification_and_scores_keep_it(
    session: Session,
) -> None:
    make_catalog(session)
    cast = rongan_cast(session)
    order = _to_appeal(session, cast, "AP-NO")
    act(session, cast["clerk"], order, "file_appeal", DAY, note="误评")
    act(session, cast["office"], order, "check_appeal", DAY, approved=True)
    act(session, cast["leader"], order, "approve_appeal", DAY, approved=True)
    # Refusing without the cause of the (now standing) bad review is refused.
    with pytest.raises(InvalidInput) as err:
        act(session, cast["city"], order, "decide_appeal", DAY, approved=False, note="证据不足")
    assert err.value.code == "workorder_field_required"
    out = act(
        session,
        cast["city"],
        order,
        "decide_appeal",
        DAY,
        approved=False,
        note="证据不足",
        cause="quality",
    )
    assert (out.state, out.verdict, out.cause, out.deduction_points) == (
        "rectifying",
        "true",
        "quality",
        2.0,
    )
    assert _staff_score(session) == (1, 0.0)


def test_every_illegal_transition_is_refused() -> None:
    """The table is the whole procedure: every other (state, action) pair is refused."""
    policy = load_profile("rongan").work_order
    allowed = {(s, t.action) for t in procedure.TRANSITIONS for s in t.sources}
    for state in State:
        for action in Action:
            if (state, action) in allowed and procedure.exists_under(policy, action):
                assert procedure.check(policy, state.value, action.value) == (state, action)
            else:
                with pytest.raises(IllegalTransition) as err:
                    procedure.check(policy, state.value, action.value)
                assert err.value.code == "illegal_transition" and err.value.status_code == 409
    with pytest.raises(IllegalTransition):
        procedure.check(policy, "no-such-state", "transfer")


def test_illegal_transition_through_the_service_changes_nothing(session: Session) -> None:
    make_catalog(session)
    cast = rongan_cast(session)
    order = bad_review(session, "ILL-1", DAY)
    events = session.scalar(select(func.count()).select_from(WorkOrderEvent))
    with pytest.raises(IllegalTransition):
        act(session, cast["office"], order, "report_upward", DAY)
    assert order.state == "registered" and order.version == 1
    assert session.scalar(select(func.count()).select_from(WorkOrderEvent)) == events


def test_each_role_takes_only_its_own_steps_in_its_own_scope(session: Session) -> None:
    make_catalog(session)
    cast = rongan_cast(session)
    order = bad_review(session, "ROLE-1", DAY)
    # Not the window, not the leader: transfer belongs to the office.
    for who in ("clerk", "head", "leader"):
        with pytest.raises(service.NotYourStep) as err:
            act(session, cast[who], order, "transfer", DAY)
        assert err.value.code == "workorder_not_your_step" and err.value.status_code == 403
    # Another county's office and another clerk do not even see the order.
    for who in ("other_office", "other_clerk"):
        with pytest.raises(NotFound):
            act(session, cast[who], order, "transfer", DAY)
    act(session, cast["office"], order, "transfer", DAY)
    # RA: the office verifies, not the window.
    with pytest.raises(service.NotYourStep):
        act(
            session, cast["clerk"], order, "verify", DAY, verdict="true", cause="attitude", note="x"
        )
    act(session, cast["office"], order, "verify", DAY, verdict="true", cause="attitude", note="x")
    with pytest.raises(service.NotYourStep):
        act(
            session,
            cast["office"],
            order,
            "submit_report",
            DAY,
            measures="m",
            responsible_person="p",
            report_text="r",
        )
    out = act(
        session,
        cast["clerk"],
        order,
        "submit_report",
        DAY,
        measures="m",
        responsible_person="p",
        report_text="r",
    )
    # Only the head approves the report (RA Art.5); the clerk's own page offers nothing now.
    assert out.actions == []
    with pytest.raises(service.NotYourStep):
        act(session, cast["clerk"], order, "approve_report", DAY)
    # A stale page cannot move the order.
    with pytest.raises(DomainError) as err:
        act(session, cast["head"], order, "approve_report", DAY, version=1)
    assert err.value.code == "workorder_stale"


def test_F1_guangxi_window_verifies_and_has_no_explanation_path(session: Session) -> None:
    """GX (via 融水县, no profile of its own): 15 natural days to rectify (F1); the window
    verifies (national default); ZZ's explanation path does not exist here."""
    make_catalog(session)
    office = official(session, "zgb-rs", "supervisor:450225")
    clerk = official(session, "ck-s5", "window_staff:S5")
    order = bad_review(session, "GX-1", DAY, item="I-O4", staff="S5")
    assert order.profile_name == "guangxi"
    act(session, office, order, "transfer", DAY)
    out = act(session, clerk, order, "verify", DAY, verdict="true", cause="quality", note="属实")
    assert open_due(out) == DAY + timedelta(days=15)
    with pytest.raises(IllegalTransition):
        act(session, clerk, order, "explain", DAY, note="n", responsible_person="p")
    out = act(
        session,
        clerk,
        order,
        "submit_report",
        DAY,
        measures="m",
        responsible_person="p",
        report_text="r",
    )
    # No head approval, no leader, no upward report outside RA: the office checks, then the
    # window tells the rater.
    assert out.state == "office_check"
    act(session, office, order, "confirm_rectification", DAY)
    out = act(session, clerk, order, "send_feedback", DAY, feedback_text="已整改")
    assert out.state == "revisit"


def test_F2_hubei_verification_within_24_hours(session: Session) -> None:
    make_catalog(session)
    office = official(session, "zgb-wh", "supervisor:420100")
    order = bad_review(session, "HB-1", DAY, item="I-HB", staff="SH")
    out = act(session, office, order, "transfer", DAY + timedelta(hours=1))
    assert open_due(out) == DAY + timedelta(hours=24)


def test_F4_zaozhuang_explanation_path_and_full_revisit_of_real_name_raters(
    session: Session,
) -> None:
    make_catalog(session)
    office = official(session, "zgb-zz", "supervisor:370400")
    clerk = official(session, "ck-sz", "window_staff:SZ")
    order = bad_review(session, "ZZ-1", DAY, item="I-ZZ", staff="SZ")
    assert order.real_name is True
    act(session, office, order, "transfer", DAY)
    act(
        session, clerk, order, "verify", DAY, verdict="true", cause="quality", note="诉求无法定依据"
    )
    out = act(
        session,
        clerk,
        order,
        "explain",
        DAY,
        note="已向评价人解释政策依据",
        responsible_person="赵六",
    )
    assert out.resolution == "explain" and out.state == "office_check"
    act(session, office, order, "confirm_rectification", DAY)
    act(session, clerk, order, "send_feedback", DAY, feedback_text="已解释说明")
    with pytest.raises(InvalidInput) as err:
        act(session, clerk, order, "record_revisit", DAY, outcome="unreachable", note="电话未接通")
    assert err.value.code == "workorder_revisit_required"
    out = act(session, clerk, order, "record_revisit", DAY, outcome="satisfied", note="已回访")
    assert out.state == "closed"


def test_F1_ledger_sets_a_new_deadline_with_a_reason(session: Session) -> None:
    make_catalog(session)
    cast = rongan_cast(session)
    order = bad_review(session, "LEDGER-1", DAY)
    act(session, cast["office"], order, "transfer", DAY)
    act(
        session, cast["office"], order, "verify", DAY, verdict="true", cause="environment", note="x"
    )
    with pytest.raises(InvalidInput):
        act(session, cast["clerk"], order, "defer", DAY, note="需采购设备")
    out = act(
        session,
        cast["clerk"],
        order,
        "defer",
        DAY,
        note="需采购叫号设备，无法在2个工作日内完成",
        new_due_date="2026-11-30",
    )
    assert out.state == "rectifying" and out.resolution == "ledger"
    assert open_due(out) == beijing(2026, 12, 1, 0, 0)
    assert out.steps[-1].due_rule == "ledger"


def test_onsite_complaint_without_a_case_number(session: Session) -> None:
    """RA 附件2: the office registers an on-site complaint naming the organisation only."""
    make_catalog(session)
    cast = rongan_cast(session)
    out = service.register_complaint(
        session=session,
        principal=cast["office"],
        data=ComplaintIn(
            source="onsite",
            org_code="O2",
            complainant_name="王小明",
            complainant_phone="13900001111",
            text="排队两小时无人引导",
        ),
        now=DAY,
    )
    assert out.order_no.startswith("TS20261110-") and out.state == "registered"
    assert out.org_code == "O2" and out.rater_name == "王**" and out.real_name is True
    # Another county's office cannot file against a unit outside its scope.
    with pytest.raises(NotFound):
        service.register_complaint(
            session=session,
            principal=cast["other_office"],
            data=ComplaintIn(source="onsite", org_code="O2", text="x"),
            now=DAY,
        )


def test_overdue_steps_are_escalated_once_and_warned_before(session: Session) -> None:
    make_catalog(session)
    order = bad_review(session, "LATE-1", DAY)
    # Registration is due at 24:00 the same day; the warning comes 4 hours before.
    result = deadlines.sweep_batch(
        session=session, now=beijing(2026, 11, 10, 20, 30), handlers=sweeper.HANDLERS
    )
    assert result.processed.get("workorder_warn") == 1
    result = deadlines.sweep_batch(
        session=session, now=beijing(2026, 11, 11, 9, 0), handlers=sweeper.HANDLERS
    )
    assert result.processed.get("workorder_overdue") == 1
    assert order.overdue is True and order.escalated_to == "450200"
    again = deadlines.sweep_batch(
        session=session, now=beijing(2026, 11, 12, 9, 0), handlers=sweeper.HANDLERS
    )
    assert "workorder_overdue" not in again.processed
    cast = rongan_cast(session)
    act(session, cast["office"], order, "transfer", beijing(2026, 11, 11, 10, 0))
    step = session.scalar(
        select(WorkOrderStep).where(
            WorkOrderStep.order_id == order.id, WorkOrderStep.state == "registered"
        )
    )
    assert step is not None and step.overdue_seconds == 10 * 3600


def test_two_sweepers_never_escalate_an_order_twice(committed_db: Database) -> None:
    with committed_db.transaction() as session:
        make_catalog(session)
        for i in range(30):
            bad_review(session, f"ESC-{i:02d}", DAY)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            sweeper.run_sweep(committed_db, beijing(2026, 11, 12, 9, 0), batch=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with committed_db.transaction() as session:
        per_order = session.execute(
            select(WorkOrderEvent.order_id, func.count())
            .where(WorkOrderEvent.action == "overdue")
            .group_by(WorkOrderEvent.order_id)
        ).all()
        assert len(per_order) == 30 and all(n == 1 for _, n in per_order)
        assert session.scalar(select(func.count()).where(WorkOrder.overdue.is_(True))) == 30
