"""D2 (ZZ 监督查评): recording callbacks, correcting them with a reason, revealing a phone
(C9), and what the callbacks found per organisation, staff and channel (C10, G4)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.audit.models import AuditEntry
from haochaping.callbacks import findings, service
from haochaping.callbacks.models import CallbackEvent, CallbackItem
from haochaping.callbacks.schemas import CallResult, ItemOut, SampleOut
from haochaping.errors import DomainError
from haochaping.evaluations.models import Evaluation
from tests.callbacks.conftest import ACTOR, NOW, PHONE, draw, rated, region_scope
from tests.factories import make_catalog


@pytest.fixture
def sample(session: Session) -> SampleOut:
    make_catalog(session)
    for n, (item, staff, channel, level) in enumerate(
        (
            ("I-IMM", "S1", 4, 5),
            ("I-IMM", "S1", 4, 5),
            ("I-IMM", "S1", 3, 4),
            ("I-IMM", "S2", 3, 5),
            ("I-O2", "S3", 2, 5),
            ("I-O2", "S3", 4, 1),
        )
    ):
        rated(session, f"C-{n}", item=item, staff=staff, channel=channel, level=level)
    return draw(session, region_scope(session, "450224"))


def _call(session: Session, item_id: int, result: CallResult, **kw: Any) -> ItemOut:
    return service.record_call(
        session=session,
        item_id=item_id,
        scope=region_scope(session, "450224"),
        actor=ACTOR,
        now=NOW,
        result=result,
        **kw,
    )


def _evaluation_row(session: Session, evaluation_id: int) -> dict[str, Any]:
    session.expire_all()
    table = Evaluation.__table__
    return dict(session.execute(select(table).where(table.c.id == evaluation_id)).mappings().one())


def test_D2_confirmed_with_a_different_stated_level_keeps_the_rating(
    session: Session, sample: SampleOut
) -> None:
    item = sample.items[0]
    before = _evaluation_row(session, item.evaluation_id)
    other_level = 3 if item.level != 3 else 4
    out = _call(session, item.id, CallResult.confirmed, stated_level=other_level, note="已接通")
    assert out.outcome is not None and out.outcome.value == "confirmed"
    assert out.attempts == 1 and out.stated_level == other_level and out.note == "已接通"
    assert out.outcome_by == ACTOR and out.outcome_at == NOW
    assert [(e.action, e.from_outcome, e.to_outcome) for e in out.events] == [
        ("recorded", None, "confirmed")
    ]
    # A finding, not a revocation: the evaluation is exactly as it was.
    assert _evaluation_row(session, item.evaluation_id) == before


def test_D2_unreachable_only_after_the_profile_number_of_calls(
    session: Session, sample: SampleOut
) -> None:
    """supervision.callback_attempts (3 in the national profile)."""
    item = sample.items[0]
    with pytest.raises(DomainError) as early:
        _call(session, item.id, CallResult.unreachable)
    assert early.value.code == "callback_attempts_too_few"
    assert "3 次" in early.value.message
    _call(session, item.id, CallResult.no_answer)
    out = _call(session, item.id, CallResult.no_answer)
    assert out.outcome is None and out.attempts == 2 and out.outcome_name == "待回访"
    out = _call(session, item.id, CallResult.unreachable, note="三次未接")
    assert out.outcome is not None and out.outcome.value == "unreachable" and out.attempts == 3
    assert [e.action for e in out.events] == ["attempt", "attempt", "recorded"]


def test_D2_a_recorded_outcome_is_corrected_only_with_a_reason(
    session: Session, sample: SampleOut
) -> None:
    item = sample.items[1]
    _call(session, item.id, CallResult.denied, note="本人表示未评价")
    with pytest.raises(DomainError) as no_reason:
        _call(session, item.id, CallResult.confirmed)
    assert no_reason.value.code == "callback_reason_required"
    with pytest.raises(DomainError) as again:
        _call(session, item.id, CallResult.no_answer)
    assert again.value.code == "callback_outcome_recorded" and again.value.status_code == 409
    out = _call(session, item.id, CallResult.confirmed, reason="家属代接，本人回电确认")
    assert out.outcome is not None and out.outcome.value == "confirmed"
    # A correction is not a call.
    assert out.attempts == 1
    assert [(e.action, e.from_outcome, e.to_outcome, e.note) for e in out.events] == [
        ("recorded", None, "denied", "本人表示未评价"),
        ("corrected", "denied", "confirmed", "家属代接，本人回电确认"),
    ]


def test_D2_stated_level_only_with_confirmed(session: Session, sample: SampleOut) -> None:
    with pytest.raises(DomainError) as refused:
        _call(session, sample.items[0].id, CallResult.denied, stated_level=2)
    assert refused.value.code == "callback_stated_level_invalid"


def test_D2_items_outside_the_scope_are_absent(session: Session, sample: SampleOut) -> None:
    for call in (
        lambda: service.record_call(
            session=session,
            item_id=sample.items[0].id,
            scope=region_scope(session, "420000"),
            actor=ACTOR,
            now=NOW,
            result=CallResult.confirmed,
        ),
        lambda: service.reveal_phone(
            session=session,
            item_id=sample.items[0].id,
            scope=region_scope(session, "450225"),
            actor=ACTOR,
            now=NOW,
        ),
    ):
        with pytest.raises(DomainError) as absent:
            call()
        assert absent.value.code == "callback_item_not_found"
        assert absent.value.status_code == 404


def test_D2_the_sample_closes_when_every_item_has_an_outcome(
    session: Session, sample: SampleOut
) -> None:
    for item in sample.items:
        _call(session, item.id, CallResult.confirmed)
    from haochaping.callbacks.reading import get_sample

    closed = get_sample(session=session, sample_id=sample.id, scope=region_scope(session, "450224"))
    assert closed.status.value == "closed" and closed.closed_at == NOW
    assert [e.action for e in closed.events] == ["drawn", "closed"]
    assert not session.scalars(
        select(CallbackItem.id).where(CallbackItem.in_open_sample.is_(True))
    ).all()


def test_C9_reveal_is_audited_and_the_phone_is_never_stored_in_clear(
    session: Session, sample: SampleOut
) -> None:
    """C9: the phone is shown for one item on request, with the sample as the audited reason;
    neither the audit log nor the events hold it."""
    item = sample.items[2]
    out = service.reveal_phone(
        session=session,
        item_id=item.id,
        scope=region_scope(session, "450224"),
        actor=ACTOR,
        now=NOW,
        ip="10.0.0.1",
    )
    assert out.phone == PHONE and out.clear
    (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "pii_unmasked"))
    assert entry.target == f"callback_item:{item.id}" and entry.actor == ACTOR
    assert f"第 {sample.id} 号抽查样本" in entry.details and PHONE not in entry.details
    events = session.scalars(select(CallbackEvent)).all()
    assert "phone_revealed" in [e.action for e in events]
    assert all(PHONE not in f"{e.note} {e.data}" for e in events)


def test_C10_summary_and_denial_rate_on_a_hand_computed_fixture(
    session: Session, sample: SampleOut
) -> None:
    """C10, G4: per unit, denial rate = denied / (confirmed + denied).

    S1 (O1): channel 4 confirmed, channel 4 denied, channel 3 denied → 2/3.
    S2 (O1): channel 3 unreachable (after 3 calls) → no one reached, no rate.
    S3 (O2): channel 2 confirmed, channel 4 still pending → 0/1.
    O1: 1 confirmed, 2 denied, 1 unreachable → 2/3; O2: 0/1.
    Channel 4: confirmed, denied, pending → 1/2; channel 3: denied, unreachable → 1/1;
    channel 2: confirmed → 0/1. Total: 2 confirmed, 2 denied, 1 unreachable, 1 pending → 1/2.
    """
    by_case = {i.case_no: i for i in sample.items}
    _call(session, by_case["C-0"].id, CallResult.confirmed)
    _call(session, by_case["C-1"].id, CallResult.denied)
    _call(session, by_case["C-2"].id, CallResult.denied)
    for _ in range(2):
        _call(session, by_case["C-3"].id, CallResult.no_answer)
    _call(session, by_case["C-3"].id, CallResult.unreachable)
    _call(session, by_case["C-4"].id, CallResult.confirmed)
    scope = region_scope(session, "450224")
    found = findings.summary(session=session, scope=scope, filters=findings.FindingFilter())

    def table(tallies: list[Any]) -> dict[str, tuple[int, int, int, int, float | None]]:
        return {
            t.name: (t.confirmed, t.denied, t.unreachable, t.pending, t.denial_rate)
            for t in tallies
        }

    assert table([found.total]) == {"合计": (2, 2, 1, 1, 0.5)}
    assert table(found.by_org) == {
        "融安县公安局": (1, 2, 1, 0, pytest.approx(2 / 3)),
        "融安县不动产登记中心": (1, 0, 0, 1, 0.0),
    }
    assert table(found.by_staff) == {
        "工作人员S1": (1, 2, 0, 0, pytest.approx(2 / 3)),
        "工作人员S2": (0, 0, 1, 0, None),
        "工作人员S3": (1, 0, 0, 1, 0.0),
    }
    assert table(found.by_channel) == {
        "大厅评价器/平板": (1, 1, 0, 1, 0.5),
        "二维码": (0, 1, 1, 0, 1.0),
        "移动端": (1, 0, 0, 0, 0.0),
    }
    assert found.by_org[0].name == "融安县公安局"  # most denials first
    total, denied = findings.denials(session=session, scope=scope, filters=findings.FindingFilter())
    assert total == 2
    assert {d.case_no for d in denied} == {"C-1", "C-2"}
    assert all(d.staff_name == "工作人员S1" and d.window_name == "W1号窗口" for d in denied)
    # Outside the scope, nothing; a filter naming another region never widens it.
    other = region_scope(session, "420000")
    assert (
        findings.summary(session=session, scope=other, filters=findings.FindingFilter()).total.drawn
        == 0
    )
    assert (
        findings.summary(
            session=session, scope=scope, filters=findings.FindingFilter(region_code="420000")
        ).total.drawn
        == 0
    )
    assert findings.denials(session=session, scope=other, filters=findings.FindingFilter())[0] == 0
