"""Submitting evaluations: B4, B6, C1, C6, C8, and the profile snapshot on each evaluation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.errors import DomainError
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.schemas import FollowUpIn
from tests.factories import T0, make_catalog, occasions_of, rate, register

ALL = Scope.all()


@pytest.fixture
def cat(session: Session) -> dict[str, object]:
    return make_catalog(session)


def _occ(session: Session, case_no: str, item: str = "I-IMM", **kw: object) -> int:
    return occasions_of(session, register(session, case_no, item, **kw))[0].id


def test_C1_one_evaluation_per_occasion(session: Session, cat: object) -> None:
    oid = _occ(session, "C1-ONE", staff_code="S1")
    e = rate(session, oid, 5)
    assert e.score == 10 and e.is_bad is False and e.profile_name == "rongan"
    with pytest.raises(DomainError) as err:
        rate(session, oid, 4)
    assert err.value.code == "already_evaluated" and err.value.status_code == 409


def test_B6_bad_review_needs_a_label_or_text(session: Session, cat: object) -> None:
    oid = _occ(session, "B6", staff_code="S1")
    with pytest.raises(DomainError) as err:
        rate(session, oid, 2)
    assert err.value.code == "bad_review_reason_required"
    assert rate(session, oid, 1, text="窗口人员态度生硬").is_bad is True


def test_B4_labels_must_fit_the_level(session: Session, cat: object) -> None:
    oid = _occ(session, "B4", staff_code="S1")
    with pytest.raises(DomainError) as err:
        rate(session, oid, 5, labels=["attitude.1"])
    assert err.value.code == "label_invalid"
    with pytest.raises(DomainError) as err:
        rate(session, oid, 2, labels=["no.such.label"])
    assert err.value.code == "label_invalid"
    e = rate(session, oid, 2, labels=["attitude.1", "efficiency.3"])
    assert e.label_codes == ["attitude.1", "efficiency.3"]
    assert e.labels_version


def test_C8_late_on_site_rating_is_supplementary_then_refused(
    session: Session, cat: object
) -> None:
    early = _occ(session, "C8-A", "I-ZZ", staff_code="SZ")
    e = rate(session, early, 4, now=T0 + timedelta(days=2))
    assert e.supplementary is True
    same_day = _occ(session, "C8-B", "I-ZZ", staff_code="SZ")
    assert rate(session, same_day, 4, now=T0 + timedelta(hours=2)).supplementary is False
    late = _occ(session, "C8-C", "I-ZZ", staff_code="SZ")
    # Window ends at 24:00 Beijing on Tue 2026-11-17.
    with pytest.raises(DomainError) as err:
        rate(session, late, 4, now=T0 + timedelta(days=7, hours=14, minutes=1))
    assert err.value.code == "supplementary_window_closed"
    assert "5个工作日" in err.value.message
    assert rate(session, late, 4, now=T0 + timedelta(days=7, hours=13)).supplementary is True


def test_C6_one_follow_up_within_its_window(session: Session, cat: object) -> None:
    oid = _occ(session, "C6", staff_code="S1")
    e = rate(session, oid, 3)
    data = FollowUpIn(text="补充：取号等候较久", channel=2)  # type: ignore[arg-type]
    with pytest.raises(DomainError) as err:
        evaluations.follow_up(
            session=session,
            evaluation_id=e.id,
            data=data,
            now=T0 + timedelta(days=400),
            scope=ALL,
        )
    assert err.value.code == "follow_up_window_closed"
    fu = evaluations.follow_up(
        session=session,
        evaluation_id=e.id,
        data=data,
        now=T0 + timedelta(days=1),
        scope=ALL,
    )
    assert fu.text == "补充：取号等候较久"
    with pytest.raises(DomainError) as err:
        evaluations.follow_up(
            session=session,
            evaluation_id=e.id,
            data=data,
            now=T0 + timedelta(days=2),
            scope=ALL,
        )
    assert err.value.code == "follow_up_exists" and err.value.status_code == 409


def test_rating_by_case_number_and_stage(session: Session, cat: object) -> None:
    register(
        session,
        "BY-NO",
        "I-PRO",
        staff_code="S1",
        completed_at=T0 + timedelta(days=1),
        now=T0 + timedelta(days=1),
    )
    from haochaping.evaluations.schemas import EvaluationIn

    e = evaluations.submit(
        session=session,
        data=EvaluationIn(case_no="BY-NO", stage="accept", level=4, channel=3),  # type: ignore[arg-type]
        now=T0 + timedelta(days=1),
        scope=ALL,
    )
    got = evaluations.get_evaluation(session=session, evaluation_id=e.id, scope=ALL)
    assert got.stage == "accept"
