"""Fair rankings and focus lists (issue 6, F6): ranked only within a group, only with the
minimum number of evaluations, by a score shrunk towards the group's mean; revoked evaluations
count for nothing; focus lists name concentrated ≤ 基本满意 ratings and units in the bottom N
for K consecutive months."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, update
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.catalog.models import Region
from haochaping.evaluations.models import Credit, Evaluation
from haochaping.policy.schemas import Supervision
from haochaping.statistics import queue, rankings, rollup, service
from haochaping.statistics.periods import parse_period
from haochaping.statistics.schemas import Dimension, UnitMetrics
from tests.factories import T0
from tests.statistics.fixture import NOVEMBER, build_november, extra_profile, rated

SUPERVISION = Supervision(
    ranking_min_evaluations=3,
    ranking_prior_weight=4,
    focus_max_level=3,
    focus_share=0.25,
    focus_min_evaluations=4,
    bottom_n=1,
    bottom_periods=2,
    publish_texts=True,
)


def _unit(key: str, group: str, evaluations: int, average: float | None) -> UnitMetrics:
    return UnitMetrics(
        dimension=Dimension.staff,
        key=key,
        code=key,
        name=key,
        group=group,
        evaluations=evaluations,
        transactions=evaluations,
        average=average,
    )


def test_F6_shrunk_score_minimum_sample_and_groups() -> None:
    rows = [
        # Two perfect ratings must not top a group of steadily good units.
        _unit("A", "公安", 2, 10.0),
        _unit("B", "公安", 10, 9.0),
        _unit("C", "公安", 6, 8.0),
        _unit("D", "不动产", 3, 6.0),
    ]
    found = rankings.standings(rows, SUPERVISION)
    mean = (2 * 10 + 10 * 9 + 6 * 8) / 18
    assert found["A"].group_mean == pytest.approx(mean)
    assert found["A"].shrunk == pytest.approx((4 * mean + 20) / 6)
    assert found["B"].shrunk == pytest.approx((4 * mean + 90) / 14)
    # A has fewer than 3 evaluations: shown with its shrunk score, never ranked.
    assert (found["A"].ranked, found["A"].rank, found["A"].group_size) == (False, None, 2)
    assert (found["B"].rank, found["C"].rank) == (1, 2)
    # Another business line is another table.
    assert (found["D"].rank, found["D"].group_size, found["D"].group_mean) == (1, 1, 6.0)
    assert rankings.bottom(found, 1) == {"C", "D"}

    ranked = rankings.rank(rows, SUPERVISION)
    assert [(r.key, r.rank) for r in ranked] == [("D", 1), ("B", 1), ("C", 2), ("A", None)]
    assert "评价数不足 3 条的单位不参与排名" in rankings.explanation(SUPERVISION)


def test_F6_concentrated_low_needs_the_share_and_the_sample() -> None:
    class Row:
        def __init__(self, code: str, evaluations: int, low: int) -> None:
            self.code, self.evaluations = code, evaluations
            self.low_share = low / evaluations

    rows = [Row("many-low", 8, 2), Row("few", 3, 3), Row("fine", 10, 2), Row("worst", 4, 4)]
    flagged = rankings.concentrated_low(rows, SUPERVISION)
    assert [r.code for r in flagged] == ["worst", "many-low"]


# --- on the database -------------------------------------------------------------------------

PROFILE = "ranking_test"
PROFILE_YAML = f"""\
name: {PROFILE}
title: 测试配置：小样本排名
version: "test-1"
extends: guangxi
supervision:
  ranking_min_evaluations: 2
  ranking_prior_weight: 2
  focus_min_evaluations: 2
  focus_share: 0.3
  bottom_n: 1
  bottom_periods: 2
"""


@pytest.fixture
def small_samples(tmp_path: Path) -> Iterator[str]:
    with extra_profile(tmp_path / "policies", PROFILE, PROFILE_YAML) as name:
        yield name


def _county_uses(session: Session, profile: str) -> None:
    county = session.get(Region, "450224")
    assert county is not None
    county.profile = profile
    session.flush()


def _staff_ranking(session: Session) -> dict[str, tuple[bool, int | None, int]]:
    selection = service.Selection(
        dimension=Dimension.staff, period=parse_period(NOVEMBER), region="450224"
    )
    result = service.ranking(session, Scope.all(), selection)
    return {r.code: (r.ranked, r.rank, r.evaluations) for r in result.items}


def test_F6_ranking_honours_the_minimum_and_drops_revoked_evaluations(
    session: Session, small_samples: str
) -> None:
    ids = build_november(session)["ids"]
    assert isinstance(ids, dict)
    _county_uses(session, small_samples)
    # S1: 5, 4, 3 and a default 5; S2: 1 and 5; S3: one 2 (below the minimum of 2).
    before = _staff_ranking(session)
    assert before["S1"] == (True, 1, 4) and before["S2"] == (True, 2, 2)
    assert before["S3"] == (False, None, 1)

    # An upheld appeal revokes S2's 非常不满意 (F1-F5): it counts nowhere any more.
    session.execute(update(Evaluation).where(Evaluation.id == ids["s2a"]).values(revoked_at=T0))
    session.execute(update(Credit).where(Credit.evaluation_id == ids["s2a"]).values(revoked=True))
    queue.evaluations_revoked(session, [ids["s2a"]])
    rollup.fold(session)
    after = _staff_ranking(session)
    assert after["S2"] == (False, None, 1)
    assert after["S1"] == (True, 1, 4)


def test_F6_focus_lists_concentrated_low_and_bottom_for_consecutive_months(
    session: Session, small_samples: str
) -> None:
    build_november(session)
    _county_uses(session, small_samples)
    # October: S2 last of the 公安 window staff as well (two months in a row, bottom_n 1).
    october = T0 - timedelta(days=30)
    for n, (staff, level) in enumerate([("S1", 5), ("S1", 5), ("S2", 4), ("S2", 3)]):
        rated(session, f"OCT-{n}", staff, level, when=october)
    rollup.fold(session)
    selection = service.Selection(
        dimension=Dimension.staff, period=parse_period(NOVEMBER), region="450224"
    )
    entries = {(e.code, e.reason): e for e in service.focus(session, Scope.all(), selection)}
    # S2 in November: one 非常不满意 of two ratings, 50% ≥ 30%; S1: one 基本满意 of four, 25%.
    assert ("S2", "concentrated_low") in entries and ("S1", "concentrated_low") not in entries
    assert entries[("S2", "concentrated_low")].low_share == pytest.approx(0.5)
    bottom = entries[("S2", "bottom_consecutive")]
    assert "连续 2 个月" in bottom.detail and "第 2/2 名" in bottom.detail
    assert ("S1", "bottom_consecutive") not in entries


def test_F6_a_page_of_a_ranking_is_the_full_ranking_cut(
    session: Session, small_samples: str
) -> None:
    """The console and the public pages read one page (or one unit) of a ranking: the
    standings are those of the whole group, whatever page is built."""
    build_november(session)
    _county_uses(session, small_samples)
    selection = service.Selection(
        dimension=Dimension.staff, period=parse_period(NOVEMBER), region="450224"
    )
    full = service.ranking(session, Scope.all(), selection)
    assert full.total == len(full.items) >= 3
    for page in (1, 2):
        cut = service.ranking(session, Scope.all(), selection, paging=service.Paging(page, 2))
        assert cut.total == full.total and cut.page == page
        assert cut.items == full.items[(page - 1) * 2 : page * 2]
    last = full.items[-1]
    [alone] = service.ranking(session, Scope.all(), selection, only={last.key}).items
    assert alone == last


def test_one_page_reads_units_and_sums_once_and_forgets_them_after(
    session: Session, small_samples: str
) -> None:
    """A dashboard page's ranking and focus list of the same units share one read inside
    ``one_page``; the answers are those asked one by one, and nothing is remembered after."""
    build_november(session)
    _county_uses(session, small_samples)
    selection = service.Selection(
        dimension=Dimension.staff, period=parse_period(NOVEMBER), region="450224"
    )
    alone = (
        service.ranking(session, Scope.all(), selection),
        service.focus(session, Scope.all(), selection),
    )
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        with service.one_page(session):
            shared = (
                service.ranking(session, Scope.all(), selection),
                service.focus(session, Scope.all(), selection),
            )
        rollup_reads = [s for s in statements if "stat_month" in s]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert shared == alone
    # The ranking's period sums (and units) serve the focus list too; per-month sums apart.
    assert len(rollup_reads) == 3  # period sums, per-month sums, the page's full metrics
    assert "statistics.one_page" not in session.info
