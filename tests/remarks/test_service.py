"""综合点评 (D2, D3, G1, C9): intake, the procedure as data, publication by profile, scope and
the answer deadline, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from haochaping import sweeper
from haochaping.access.scope import Scope, scope_of
from haochaping.audit.models import AuditEntry
from haochaping.deadlines import service as deadlines
from haochaping.errors import DomainError
from haochaping.policy.schemas import RemarkCategory
from haochaping.remarks import reading, service
from haochaping.remarks.models import Remark, RemarkEvent, RemarkStatus
from haochaping.remarks.procedure import TRANSITIONS, IllegalTransition, RemarkAction, transition
from tests.factories import make_catalog
from tests.remarks.helpers import EMAIL, NAME, NOW, PHONE, RA, ZZ, answered, routed, submit


@pytest.fixture
def catalog(session: Session) -> dict[str, object]:
    return make_catalog(session)


def _events(session: Session, remark: Remark) -> list[str]:
    return list(
        session.scalars(
            select(RemarkEvent.action)
            .where(RemarkEvent.remark_id == remark.id)
            .order_by(RemarkEvent.id)
        )
    )


def test_D2_C9_submit_numbers_the_remark_and_encrypts_the_contact(
    session: Session, catalog: object
) -> None:
    done = submit(session)
    remark = done.remark
    assert remark.remark_no.startswith("ZP20261110-")
    assert done.query_code and len(done.query_code) == 8
    assert remark.status == RemarkStatus.received.value
    # C9: ciphertext at rest, clear for the code that needs it.
    raw = session.execute(
        text("SELECT contact_name, contact_phone, contact_email, query_code_hash FROM remarks")
    ).one()
    assert all(value.startswith("sm4gcm:") for value in raw[:3])
    assert PHONE not in raw[3] and done.query_code not in raw[3]
    assert (remark.contact_name, remark.contact_phone, remark.contact_email) == (NAME, PHONE, EMAIL)
    # The event says a contact exists, never what it is.
    (event,) = session.scalars(select(RemarkEvent).where(RemarkEvent.remark_id == remark.id))
    assert event.data["with_contact"] is True and PHONE not in str(event.data)
    # The answer deadline is a stored row for the sweeper (national default 15 natural days).
    assert remark.due_at == NOW + timedelta(days=15)


def test_D2_D3_the_whole_procedure_writes_an_event_per_step(
    session: Session, catalog: object
) -> None:
    remark = submit(session).remark
    routed(session, remark.remark_no)
    answered(session, remark.remark_no)
    service.publish(
        session=session, remark_no=remark.remark_no, actor="user:sup", scope=Scope.all(), now=NOW
    )
    assert remark.status == RemarkStatus.published.value
    assert _events(session, remark) == ["submit", "route", "answer", "publish"]
    assert remark.topic == "environment" and remark.answer_text
    # Answered in time: the deadline row is cancelled, nothing is overdue.
    assert not reading.is_overdue(remark, NOW + timedelta(days=30))


ILLEGAL = [
    (status, action)
    for status in RemarkStatus
    for action in RemarkAction
    if action not in (RemarkAction.submit, RemarkAction.overdue)
    and (status, action) not in TRANSITIONS
]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_every_transition_outside_the_table_is_refused(
    session: Session, catalog: object, status: RemarkStatus, action: RemarkAction
) -> None:
    remark = submit(session).remark
    remark.status = status.value
    with pytest.raises(IllegalTransition) as info:
        transition(session, remark, action, at=NOW, actor="user:x")
    assert info.value.code == "remark_transition_illegal" and info.value.status_code == 409
    assert remark.status == status.value
    assert _events(session, remark) == ["submit"]


def test_refused_steps_through_the_service(session: Session, catalog: object) -> None:
    remark = submit(session).remark
    with pytest.raises(DomainError) as info:
        answered(session, remark.remark_no)
    assert info.value.code == "remark_transition_illegal"
    with pytest.raises(DomainError) as info:
        service.publish(
            session=session, remark_no=remark.remark_no, actor="u", scope=Scope.all(), now=NOW
        )
    assert info.value.code == "remark_transition_illegal"
    routed(session, remark.remark_no)
    routed(session, remark.remark_no)  # re-routing before the answer is allowed
    answered(session, remark.remark_no)
    with pytest.raises(DomainError) as info:
        routed(session, remark.remark_no)
    assert info.value.code == "remark_transition_illegal"


def test_G1_publish_only_where_the_profile_says_so(session: Session, catalog: object) -> None:
    """ZZ (结果全公开) publishes; RA (national default) does not: the office closes instead."""
    remark = submit(session, RA).remark
    routed(session, remark.remark_no, org="O1")
    answered(session, remark.remark_no)
    with pytest.raises(DomainError) as info:
        service.publish(
            session=session, remark_no=remark.remark_no, actor="u", scope=Scope.all(), now=NOW
        )
    assert info.value.code == "remark_publishing_disabled"
    assert remark.status == RemarkStatus.answered.value
    service.close(
        session=session, remark_no=remark.remark_no, actor="u", scope=Scope.all(), now=NOW
    )
    assert remark.status == RemarkStatus.closed.value
    assert reading.published(session=session)[0] == 0


def test_G1_C9_published_text_is_a_redaction_and_never_the_contact(
    session: Session, catalog: object
) -> None:
    remark = submit(session, text=f"窗口太少，请回电{PHONE}").remark
    routed(session, remark.remark_no)
    answered(session, remark.remark_no)
    with pytest.raises(DomainError) as info:
        service.publish(
            session=session,
            remark_no=remark.remark_no,
            actor="u",
            scope=Scope.all(),
            now=NOW,
            text="窗口太少，办事人很满意",
        )
    assert info.value.code == "remark_not_redaction"
    service.publish(
        session=session, remark_no=remark.remark_no, actor="u", scope=Scope.all(), now=NOW
    )
    assert remark.published_text == "窗口太少，请回电" + "*" * 11
    total, items = reading.published(session=session)
    assert total == 1
    shown = items[0].model_dump_json()
    assert PHONE not in shown and EMAIL not in shown and NAME not in shown
    audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "remark_published"))
    assert all(PHONE not in entry.details for entry in audit)


def test_classification_suggestion_from_profile_keywords(session: Session, catalog: object) -> None:
    complaint = submit(session, text="投诉：窗口人员态度差，推诿扯皮").remark
    assert complaint.category == RemarkCategory.complaint.value
    assert complaint.topic == "attitude"
    praise = submit(session, text="感谢不动产窗口热情周到，点赞").remark
    assert praise.category == RemarkCategory.praise.value
    other = submit(session, text="今天天气不错").remark
    assert (other.category, other.topic) == (RemarkCategory.other.value, None)
    # What the citizen chose wins over the suggestion.
    chosen = submit(session, text="投诉排队太久", category=RemarkCategory.suggestion).remark
    assert chosen.category == RemarkCategory.suggestion.value


def test_scope_an_office_sees_its_subtree_and_an_organisation_its_own(
    session: Session, catalog: dict[str, dict[str, object]]
) -> None:
    ra = submit(session, RA).remark
    zz = submit(session, ZZ).remark
    routed(session, zz.remark_no, org="Z1")
    county = scope_of(session, region_codes={RA})
    province = scope_of(session, region_codes={"450000"})
    o1 = catalog["orgs"]["O1"]
    org_scope = scope_of(session, org_ids={o1.id})  # type: ignore[attr-defined]
    listed = {
        name: {
            r.remark_no
            for r in reading.list_remarks(
                session=session, scope=scope, filters=reading.RemarkFilter(), now=NOW
            )[1]
        }
        for name, scope in (("county", county), ("province", province), ("org", org_scope))
    }
    assert listed == {"county": {ra.remark_no}, "province": {ra.remark_no}, "org": set()}
    # Filters never widen the scope.
    _, items = reading.list_remarks(
        session=session,
        scope=county,
        filters=reading.RemarkFilter(region_code=ZZ),
        now=NOW,
    )
    assert items == []
    with pytest.raises(DomainError) as info:
        reading.get_remark(session=session, remark_no=zz.remark_no, scope=county, now=NOW)
    assert info.value.code == "remark_not_found"
    with pytest.raises(DomainError):
        service.route(
            session=session,
            remark_no=zz.remark_no,
            actor="user:ra",
            scope=county,
            now=NOW,
            org_code="O1",
            category=RemarkCategory.other,
            topic=None,
        )
    # The county office cannot route to an organisation outside its region.
    with pytest.raises(DomainError) as info:
        service.route(
            session=session,
            remark_no=ra.remark_no,
            actor="user:ra",
            scope=county,
            now=NOW,
            org_code="Z1",
            category=RemarkCategory.other,
            topic=None,
        )
    assert info.value.code == "remark_org_out_of_scope" and info.value.status_code == 403
    routed(session, ra.remark_no, org="O1")
    _, items = reading.list_remarks(
        session=session, scope=org_scope, filters=reading.RemarkFilter(), now=NOW
    )
    assert [r.remark_no for r in items] == [ra.remark_no]


def test_overdue_remarks_are_marked_by_the_sweeper_once(session: Session, catalog: object) -> None:
    late = submit(session).remark
    on_time = submit(session).remark
    routed(session, on_time.remark_no)
    answered(session, on_time.remark_no)
    later = NOW + timedelta(days=16)
    for _ in range(2):  # idempotent
        deadlines.sweep_batch(session=session, now=later, handlers=sweeper.HANDLERS)
    assert late.overdue and not on_time.overdue
    assert _events(session, late) == ["submit", "overdue"]
    total, items = reading.list_remarks(
        session=session,
        scope=Scope.all(),
        filters=reading.RemarkFilter(overdue=True),
        now=later,
    )
    assert total == 1 and items[0].remark_no == late.remark_no and items[0].overdue


def test_C9_citizen_status_needs_receipt_number_and_code(session: Session, catalog: object) -> None:
    done = submit(session)
    remark_no, code = done.remark.remark_no, done.query_code or ""
    status = reading.public_status(session=session, remark_no=remark_no, code=code.lower())
    assert status.status_name == "已受理，待分办" and status.answer_text is None
    for number, wrong in ((remark_no, "WRONGCOD"), ("ZP20990101-000000", code)):
        with pytest.raises(DomainError) as info:
            reading.public_status(session=session, remark_no=number, code=wrong)
        assert info.value.code == "remark_query_failed"
    routed(session, remark_no)
    answered(session, remark_no, "已处理")
    assert (
        reading.public_status(session=session, remark_no=remark_no, code=code).answer_text
        == "已处理"
    )


def test_submit_refuses_bad_input(session: Session, catalog: object) -> None:
    for kwargs, code in (
        ({"text": "   "}, "remark_text_required"),
        ({"region": "999999"}, "region_not_found"),
        ({"region": RA, "org_code": "Z1"}, "remark_org_outside_region"),
        ({"org_code": "NOPE"}, "org_not_found"),
    ):
        with pytest.raises(DomainError) as info:
            submit(session, **kwargs)  # type: ignore[arg-type]
        assert info.value.code == code
