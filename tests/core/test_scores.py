"""B2 on a hand-computed fixture: averages of evaluations, never averages of averages; counts;
active and default apart; sub-regions included; C2 bundle and C4 batch credits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.deadlines import service as deadlines
from haochaping.scores import service as scores
from haochaping.scores.schemas import Dimension, ScoreRow
from haochaping.sweeper import HANDLERS
from tests.factories import T0, make_catalog, occasions_of, rate, register


def _by_code(session: Session, dimension: Dimension, **kw: object) -> dict[str, ScoreRow]:
    return {
        r.code: r
        for r in scores.compute_scores(
            session=session, dimension=dimension, access=Scope.all(), **kw
        )
    }  # type: ignore[arg-type]


def _rated(session: Session, case_no: str, level: int, item: str = "I-IMM", **kw: object) -> None:
    occ = occasions_of(session, register(session, case_no, item, **kw))[0]
    rate(session, occ.id, level, text="意见" if level <= 2 else None)


@pytest.fixture
def fixture(session: Session) -> Session:
    """S1 (O1): 10, 10, 8. S2 (O1): 0. S3 (O2): 3. S4 (O3, city level): default 10.
    One online item-only evaluation of O1's item: 10 (GX counts it for no unit, GX Art.4)."""
    make_catalog(session)
    _rated(session, "F-1", 5, staff_code="S1")
    _rated(session, "F-2", 5, staff_code="S1")
    _rated(session, "F-3", 4, staff_code="S1")
    _rated(session, "F-4", 1, staff_code="S2")
    _rated(session, "F-5", 2, "I-O2", staff_code="S3")
    _rated(session, "F-6", 5, handling="online")
    register(session, "F-7", "I-O3", staff_code="S4")
    deadlines.sweep_batch(session=session, now=T0 + timedelta(days=8), handlers=HANDLERS)
    return session


def test_B2_staff(fixture: Session) -> None:
    rows = _by_code(fixture, Dimension.staff)
    assert rows["S1"].all.average == pytest.approx(28 / 3)
    assert rows["S1"].all.evaluations == 3
    assert rows["S2"].all.average == 0
    assert rows["S4"].active.evaluations == 0 and rows["S4"].default.average == 10


def test_B2_organisation_is_average_of_evaluations_not_of_staff_averages(fixture: Session) -> None:
    o1 = _by_code(fixture, Dimension.org)["O1"]
    assert o1.all.average == pytest.approx(28 / 4)  # 7.0, not (9.33 + 0) / 2
    assert o1.all.evaluations == 4


def test_B2_line_across_levels(fixture: Session) -> None:
    l1 = _by_code(fixture, Dimension.line)["L1"]
    assert l1.all.average == pytest.approx(38 / 5)
    assert (l1.active.evaluations, l1.default.evaluations) == (4, 1)


def test_B2_region_includes_sub_regions_active_and_default_apart(fixture: Session) -> None:
    rows = _by_code(fixture, Dimension.region)
    assert rows["450224"].all.average == pytest.approx(31 / 5)
    city = rows["450200"]
    assert city.all.average == pytest.approx(41 / 6)
    assert city.active.average == pytest.approx(31 / 5) and city.active.evaluations == 5
    assert city.default.average == 10 and city.default.evaluations == 1
    assert rows["450000"].all.evaluations == 6
    assert "420000" not in rows


def test_B5_item_only_evaluation_counts_for_the_item(fixture: Session) -> None:
    item = _by_code(fixture, Dimension.item)["I-IMM"]
    assert item.all.evaluations == 5  # four staff ratings and the online one


def test_B2_period_and_region_scope(fixture: Session) -> None:
    rows = _by_code(fixture, Dimension.org, date_to=T0 + timedelta(days=1))
    assert "O3" not in rows  # its default is dated day 7
    scoped = _by_code(fixture, Dimension.region, region_code="450224")
    assert set(scoped) == {"450224"}


def test_C4_batch_counts_each_transaction(session: Session) -> None:
    make_catalog(session)
    _rated(session, "BATCH", 5, staff_code="S1", batch_size=3)
    _rated(session, "SINGLE", 1, staff_code="S1")
    s1 = _by_code(session, Dimension.staff)["S1"]
    assert s1.all.average == pytest.approx(30 / 4)
    assert (s1.all.evaluations, s1.all.transactions) == (2, 4)


def test_C2_bundle_overall_counts_once_for_every_organisation_and_region(
    session: Session,
) -> None:
    make_catalog(session)
    common = {"bundle_no": "B-9", "approved_at": T0, "delivered_at": T0}
    register(session, "B-9-a", staff_code="S1", **common)
    register(session, "B-9-b", "I-IMM", staff_code="S2", **common)
    case_c = register(session, "B-9-c", "I-O2", staff_code="S3", **common)
    occ = {o.stage: o for o in occasions_of(session, case_c)}
    rate(session, occ["accept"].id, 1, text="受理慢")
    rate(session, occ["overall"].id, 4)
    orgs = _by_code(session, Dimension.org)
    assert orgs["O1"].all.evaluations == 1 and orgs["O1"].all.average == 8
    assert orgs["O2"].all.evaluations == 1
    regions = _by_code(session, Dimension.region)
    assert regions["450224"].all.evaluations == 1  # once, though two organisations
    assert regions["450224"].all.average == 8
    assert _by_code(session, Dimension.staff) == {}  # bundle scores credit no staff member
