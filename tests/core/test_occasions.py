"""Occasions derived from a case and its profile (C1, C2, C3/B5, C7, C8)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.calendar import service as calendar
from haochaping.cases import service as cases
from haochaping.cases.models import Occasion
from haochaping.deadlines.models import Deadline
from haochaping.errors import DomainError
from tests.factories import T0, make_catalog, occasions_of, register


@pytest.fixture
def cat(session: Session) -> dict[str, object]:
    return make_catalog(session)


def test_C1_immediate_case_has_one_occasion(session: Session, cat: object) -> None:
    case = register(session, "C1-IMM", staff_code="S1")
    occ = occasions_of(session, case)
    assert [o.stage for o in occ] == ["complete"]
    assert occ[0].rates_staff is True and occ[0].on_site is True


def test_C1_promised_case_is_rated_at_acceptance_and_completion(
    session: Session, cat: object
) -> None:
    case = register(session, "C1-PRO", "I-PRO", staff_code="S1", completed_at=None)
    assert [o.stage for o in occasions_of(session, case)] == ["accept"]
    register(
        session,
        "C1-PRO",
        "I-PRO",
        staff_code="S1",
        completed_at=T0 + timedelta(days=3),
        now=T0 + timedelta(days=3),
    )
    assert [o.stage for o in occasions_of(session, case)] == ["accept", "complete"]


def test_B5_C3_online_handling_rates_the_item_only(session: Session, cat: object) -> None:
    case = register(session, "B5-ONLINE", handling="online")
    occ = occasions_of(session, case)
    assert occ[0].rates_staff is False and occ[0].staff_id is None and occ[0].on_site is False


def test_upsert_is_idempotent_by_case_no(session: Session, cat: object) -> None:
    a = register(session, "UPSERT-1", staff_code="S1")
    b = register(session, "UPSERT-1", staff_code="S2")
    assert a.id == b.id
    occ = occasions_of(session, b)
    assert len(occ) == 1 and occ[0].staff_id == cat["staff"]["S2"].id  # type: ignore[index]


def test_C7_guangxi_window_closes_after_seven_natural_days(session: Session, cat: object) -> None:
    case = register(session, "C7-GX", staff_code="S1")
    occ = occasions_of(session, case)[0]
    # rongan inherits GX: default after 7 natural days; 5 working days end earlier here.
    assert occ.default_due == T0 + timedelta(days=7)
    assert occ.rate_until == occ.default_due


def test_C8_zaozhuang_on_site_window_is_five_working_days(session: Session, cat: object) -> None:
    case = register(session, "C8-ZZ", "I-ZZ", staff_code="SZ")
    occ = occasions_of(session, case)[0]
    assert occ.default_due is None  # no document gives ZZ a default rating
    # Tue 2026-11-10 + 5 working days -> end of Tue 2026-11-17 (Beijing) = 16:00 UTC that day.
    assert occ.rate_until.isoformat() == "2026-11-17T16:00:00+00:00"


def test_C2_bundle_has_stage_and_overall_occasions(session: Session, cat: object) -> None:
    common = {"bundle_no": "B-1", "bundle_name": "开办企业一件事"}
    a = register(session, "B-1-a", staff_code="S1", approved_at=T0, delivered_at=T0, **common)
    assert cases.case_occasions(session=session, case=a)[0] == []
    stages = [o.stage for o in occasions_of(session, a)]
    assert stages == ["accept", "approve", "deliver", "overall"]
    # A second member not yet completed closes nothing new, but keeps existing occasions.
    register(session, "B-1-b", "I-O2", staff_code="S3", completed_at=None, **common)
    occ = {o.stage: o for o in occasions_of(session, a)}
    assert occ["overall"].credited is True and occ["accept"].credited is False


def test_case_times_are_checked(session: Session, cat: object) -> None:
    with pytest.raises(DomainError) as err:
        register(session, "BAD-T", completed_at=T0 - timedelta(hours=1))
    assert err.value.code == "case_times_invalid"
    with pytest.raises(DomainError) as err:
        register(session, "BAD-ITEM", "NOPE")
    assert err.value.code == "item_not_found"
    with pytest.raises(DomainError) as err:
        register(session, "BAD-STAFF", staff_code="S3")
    assert err.value.code == "staff_not_in_org"
    with pytest.raises(DomainError) as err:
        register(session, "BAD-WINDOW", window_code="W2")
    assert err.value.code == "window_not_in_org"


LATE_DECEMBER = T0.replace(month=12, day=29)


def _late_december_occasion(session: Session, case_no: str) -> Occasion:
    """A ZZ case handled on 2026-12-29: its 5-working-day window reaches into 2027."""
    case = register(
        session,
        case_no,
        "I-ZZ",
        staff_code="SZ",
        accepted_at=LATE_DECEMBER,
        completed_at=LATE_DECEMBER,
        now=LATE_DECEMBER,
    )
    return occasions_of(session, case)[0]


def test_P2_window_across_a_year_without_schedule_is_flagged(session: Session, cat: object) -> None:
    occ = _late_december_occasion(session, "P2-2027")
    assert occ.window_estimated is True
    row = session.scalar(select(Deadline).where(Deadline.subject_id == occ.id))
    assert row is not None and row.estimated is True and row.kind == "occasion.close"


def test_P2_importing_the_year_recomputes_estimated_windows(session: Session, cat: object) -> None:
    occ = _late_december_occasion(session, "P2-IMPORT")
    guessed = occ.rate_until
    example = Path(__file__).resolve().parents[2] / "examples" / "calendar-2027.csv"
    calendar.import_file(session=session, path=example, now=LATE_DECEMBER)
    assert cases.recompute_estimated_windows(session=session) == 1
    assert occ.window_estimated is False
    # The example schedule makes 2027-01-01 a holiday: one working day more than the guess.
    assert occ.rate_until > guessed
