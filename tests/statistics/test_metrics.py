"""A5, B2, F4, F6: every metric of the statistics on a hand-computed month (see fixture.py)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.statistics import service
from haochaping.statistics.periods import parse_period
from haochaping.statistics.schemas import Dimension, UnitMetrics
from tests.statistics.fixture import NOVEMBER, build_november

PERIOD = parse_period(NOVEMBER)


def _table(session: Session, dimension: Dimension, **kw: object) -> dict[str, UnitMetrics]:
    selection = service.Selection(dimension=dimension, period=PERIOD, **kw)  # type: ignore[arg-type]
    return {row.code: row for row in service.table(session, Scope.all(), selection)}


def test_B2_staff_results_are_averages_of_their_evaluations_with_active_and_default_apart(
    session: Session,
) -> None:
    build_november(session)
    staff = _table(session, Dimension.staff, region="450000")
    s1 = staff["S1"]
    # 10 + 8 + 6 + 10 (default) over 4 evaluations.
    assert (s1.evaluations, s1.average) == (4, pytest.approx(8.5))
    assert (s1.active.evaluations, s1.active.average) == (3, pytest.approx(8.0))
    assert (s1.default.evaluations, s1.default.average) == (1, pytest.approx(10.0))
    assert s1.levels == {1: 0, 2: 0, 3: 1, 4: 1, 5: 2}
    assert (s1.bad, s1.bad_rate) == (0, 0.0)
    assert s1.active_rate == pytest.approx(0.75)
    assert s1.coverage == pytest.approx(0.75)
    # F6: 基本满意 and below.
    assert (s1.low, s1.low_share) == (1, pytest.approx(0.25))
    s2 = staff["S2"]
    assert (s2.evaluations, s2.average, s2.bad, s2.bad_rate) == (2, 5.0, 1, 0.5)
    assert staff["S3"].average == pytest.approx(3.0)
    # A unit nobody rated is listed with zeros, not left out.
    assert staff["S4"].evaluations == 0 and staff["S4"].average is None


def test_B2_organisations_windows_regions_and_lines_average_the_evaluations_not_averages(
    session: Session,
) -> None:
    build_november(session)
    orgs = _table(session, Dimension.org, region="450000")
    # O1 = S1 (34 points / 4) + S2 (10 / 2): 44 / 6, not (8.5 + 5) / 2.
    assert (orgs["O1"].evaluations, orgs["O1"].average) == (6, pytest.approx(44 / 6))
    assert (orgs["O2"].evaluations, orgs["O2"].average) == (1, pytest.approx(3.0))
    windows = _table(session, Dimension.window, region="450224")
    assert (windows["W1"].evaluations, windows["W1"].average) == (6, pytest.approx(44 / 6))
    regions = _table(session, Dimension.region, region="450200")
    assert (regions["450224"].evaluations, regions["450224"].average) == (7, pytest.approx(47 / 7))
    assert (regions["450225"].evaluations, regions["450225"].average) == (1, 10.0)
    province = _table(session, Dimension.region, region="450000")
    assert (province["450200"].evaluations, province["450200"].average) == (
        8,
        pytest.approx(57 / 8),
    )
    lines = _table(session, Dimension.line, region="450200")
    # 公安 (L1): O1 (44 / 6) and O4 (10 / 1) of the city; 不动产 (L2): O2.
    assert (lines["L1"].evaluations, lines["L1"].average) == (7, pytest.approx(54 / 7))
    assert (lines["L2"].evaluations, lines["L2"].average) == (1, pytest.approx(3.0))
    county_lines = _table(session, Dimension.line, region="450224")
    assert county_lines["L1"].evaluations == 6
    items = _table(session, Dimension.item, region="450224")
    assert items["I-IMM"].evaluations == 6 and items["I-O2"].evaluations == 1


def test_F1_F4_work_order_figures_per_unit(session: Session) -> None:
    build_november(session)
    orgs = _table(session, Dimension.org, region="450000")
    o1, o2 = orgs["O1"].work_orders, orgs["O2"].work_orders
    # Nobody acted in the eight days swept: the RA registration deadline has passed (F1).
    assert (o1.opened, o1.closed, o1.overdue, o1.on_time, o1.upheld) == (1, 0, 1, 0, 0)
    # Both raters are named applicants: real-name bad reviews, not yet revisited (F4).
    assert (o1.real_name, o1.revisited, o1.revisit_rate) == (1, 0, 0.0)
    assert o2.opened == 1
    region = _table(session, Dimension.region, region="450200")["450224"].work_orders
    assert region.opened == 2
    assert orgs["O4"].work_orders.opened == 0


def test_channel_filter_keeps_one_channels_active_evaluations(session: Session) -> None:
    build_november(session)
    hall = _table(session, Dimension.staff, region="450000", channel=4)["S1"]
    assert (hall.evaluations, hall.default.evaluations) == (2, 0)
    mobile = _table(session, Dimension.staff, region="450000", channel=2)["S1"]
    assert (mobile.evaluations, mobile.average) == (1, 6.0)


def test_overview_trend_channels_and_label_shares(session: Session) -> None:
    build_november(session)
    view = service.overview(session, Scope.all(), Dimension.org, None or _org_key(session), PERIOD)
    assert view.unit.evaluations == 6
    assert len(view.trend) == 30
    day = {p.day: p for p in view.trend}
    assert day["2026-11-10"].evaluations == 5 and day["2026-11-10"].bad == 1
    assert sum(p.evaluations for p in view.trend) == 6
    channels = {c.channel: c for c in view.channels}
    assert channels[4].evaluations == 4 and channels[2].evaluations == 1
    assert channels[0].name == "默认评价" and channels[0].evaluations == 1
    assert sum(c.share for c in view.channels) == pytest.approx(1.0)
    labels = {label.code: label for label in view.labels}
    # One of O1's five active evaluations chose 工作人员服务态度生硬.
    assert labels["attitude.3"].evaluations == 1
    assert labels["attitude.3"].share == pytest.approx(1 / 5)
    assert labels["attitude.3"].name == "工作人员服务态度生硬"


def _org_key(session: Session) -> str:
    return next(
        r.key
        for r in service.table(
            session, Scope.all(), service.Selection(Dimension.org, PERIOD, region="450224")
        )
        if r.code == "O1"
    )


def test_scope_a_county_office_sees_its_subtree_only(session: Session) -> None:
    from haochaping.errors import DomainError
    from tests.workorders.helpers import official

    build_november(session)
    county = official(session, "zgb-ra-stats", "supervisor:450224").scope
    orgs = {
        r.code for r in service.table(session, county, service.Selection(Dimension.org, PERIOD))
    }
    assert orgs == {"O1", "O2"}
    with pytest.raises(DomainError) as refused:
        service.table(session, county, service.Selection(Dimension.org, PERIOD, region="450225"))
    assert refused.value.code == "out_of_scope"
    clerk = official(session, "ck-s1-stats", "window_staff:S1").scope
    assert [
        r.code for r in service.table(session, clerk, service.Selection(Dimension.staff, PERIOD))
    ] == ["S1"]
    with pytest.raises(DomainError) as refused:
        service.table(session, clerk, service.Selection(Dimension.org, PERIOD))
    assert refused.value.code == "dimension_out_of_scope"
    manager = official(session, "jg-o1-stats", "org_manager:O1").scope
    assert {
        r.code for r in service.table(session, manager, service.Selection(Dimension.staff, PERIOD))
    } == {"S1", "S2"}


SORTS = ("code", "evaluations", "average", "bad_rate", "active_rate", "coverage", "overdue")


def _sort_value(row: UnitMetrics, sort: str) -> float:
    value = {
        "code": 0.0,
        "evaluations": row.evaluations,
        "average": row.average,
        "bad_rate": row.bad_rate,
        "active_rate": row.active_rate,
        "coverage": row.coverage,
        "overdue": row.work_orders.overdue,
    }[sort]
    return -1.0 if value is None else float(value)


@pytest.mark.parametrize("descending", [False, True])
def test_a_page_of_a_table_is_the_full_table_sorted_then_cut(
    session: Session, descending: bool
) -> None:
    """A dashboard reads one page: sorted on sums of every unit, full metrics for the page
    only; the rows, their order and the total are those of the whole table."""
    build_november(session)
    selection = service.Selection(dimension=Dimension.staff, period=PERIOD, region="450000")
    everything = service.table(session, Scope.all(), selection)
    assert len(everything) >= 3
    for sort in SORTS:
        expected = sorted(
            everything, key=lambda r: (_sort_value(r, sort), r.code), reverse=descending
        )
        for page in (1, 2, 3):
            paging = service.Paging(page, 2, sort, descending)  # type: ignore[arg-type]
            total, rows = service.table_page(session, Scope.all(), selection, paging)
            assert total == len(everything)
            assert rows == expected[(page - 1) * 2 : page * 2], (sort, page)
