"""D2 (ZZ 监督查评): drawing random samples of recent evaluations for callbacks."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.callbacks import sampling, service
from haochaping.callbacks.schemas import CallResult
from haochaping.errors import DomainError
from tests.callbacks.conftest import ACTOR, NOW, draw, evaluation, rated, region_scope
from tests.factories import make_catalog


@pytest.fixture
def world(session: Session) -> dict[str, list[int]]:
    """Six eligible evaluations in 融安 (450224), and every kind of ineligible one."""
    make_catalog(session)
    eligible = [
        rated(session, "E-1", staff="S1", channel=4),
        rated(session, "E-2", staff="S1", channel=3),
        rated(session, "E-3", staff="S2", channel=4, level=3),
        rated(session, "E-4", item="I-O2", staff="S3", channel=2),
        rated(session, "E-5", item="I-O2", staff="S3", channel=4, level=1),
        rated(session, "E-6", item="I-PRO", staff="S1", channel=4),
    ]
    default = rated(session, "X-DEFAULT")
    evaluation(session, default).is_default = True
    revoked = rated(session, "X-REVOKED", level=2)
    evaluation(session, revoked).revoked_at = NOW
    no_phone = rated(session, "X-NOPHONE", phone=None)
    old = rated(session, "X-OLD")
    evaluation(session, old).rated_at = NOW - timedelta(days=45)
    other_county = rated(session, "X-450225", item="I-O4", staff="S5")
    other_province = rated(session, "X-HB", item="I-HB", staff="SH")
    session.flush()
    return {
        "eligible": eligible,
        "ineligible": [default, revoked, no_phone, old],
        "450225": [other_county],
        "420000": [other_province],
    }


def _ids(sample_items: list[object]) -> set[int]:
    return {item.evaluation_id for item in sample_items}  # type: ignore[attr-defined]


def test_D2_draw_takes_only_evaluations_a_rater_made_with_a_phone(
    session: Session, world: dict[str, list[int]]
) -> None:
    """D2, C7, C9: defaults, revoked evaluations, applicants without a phone and ratings
    outside the last 30 days are not eligible; the draw reports how many were."""
    sample = draw(session, region_scope(session, "450224"))
    assert sample.eligible == 6 and sample.size == 6 and sample.requested_size == 500
    assert _ids(sample.items) == set(world["eligible"])
    assert sorted(i.position for i in sample.items) == list(range(1, 7))
    assert all(i.phone == "138****8000" and not i.phone_clear for i in sample.items)
    assert sample.status.value == "open" and sample.method == "seeded_ranks_v1"
    assert len(sample.seed) == 16 and sample.created_by == ACTOR
    assert [e.action for e in sample.events] == ["drawn"]


def test_D2_draw_stays_inside_the_region_subtree_and_the_scope(
    session: Session, world: dict[str, list[int]]
) -> None:
    """D2: a city office draws from its counties; a region outside the scope is refused."""
    city = draw(session, region_scope(session, "450200"), "450200", 500)
    assert _ids(city.items) == set(world["eligible"]) | set(world["450225"])
    with pytest.raises(DomainError) as refused:
        draw(session, region_scope(session, "420000"), "450224", 5)
    assert refused.value.code == "out_of_scope" and refused.value.status_code == 403
    with pytest.raises(DomainError) as inside_county:
        draw(session, region_scope(session, "450224"), "450200", 5)
    assert inside_county.value.code == "out_of_scope"


def test_D2_draw_filters_by_organisation_staff_channel_and_period(
    session: Session, world: dict[str, list[int]]
) -> None:
    e1, e2, e3, e4, e5, e6 = world["eligible"]
    scope = region_scope(session, "450224")
    for params, expected in (
        ({"org_code": "O2"}, {e4, e5}),
        ({"staff_code": "S1"}, {e1, e2, e6}),
        ({"channel": 4}, {e1, e3, e5, e6}),
        ({"staff_code": "S1", "channel": 4}, {e1, e6}),
    ):
        nested = session.begin_nested()
        sample = draw(session, scope, **params)  # type: ignore[arg-type]
        assert _ids(sample.items) == expected, params
        assert sample.eligible == len(expected)
        nested.rollback()
    # The 45-day-old rating is eligible when the period covers it.
    old = world["ineligible"][3]
    sample = draw(
        session,
        scope,
        date_from=(NOW - timedelta(days=60)).date(),
        date_to=(NOW - timedelta(days=40)).date(),
    )
    assert _ids(sample.items) == {old}


def test_D2_the_same_evaluation_is_not_drawn_twice_into_open_samples(
    session: Session, world: dict[str, list[int]]
) -> None:
    scope = region_scope(session, "450224")
    first = draw(session, scope, size=4)
    assert first.size == 4 and first.eligible == 6
    second = draw(session, scope)
    assert second.eligible == 2 and _ids(second.items) == set(world["eligible"]) - _ids(first.items)
    with pytest.raises(DomainError) as none_left:
        draw(session, scope)
    assert none_left.value.code == "callback_nothing_eligible"
    assert none_left.value.status_code == 422
    # Once every item of the first sample has an outcome, it is closed and its evaluations
    # may be drawn again.
    for item in first.items:
        service.record_call(
            session=session,
            item_id=item.id,
            scope=scope,
            actor=ACTOR,
            now=NOW,
            result=CallResult.confirmed,
        )
    third = draw(session, scope)
    assert _ids(third.items) == _ids(first.items)


def test_D2_the_seed_explains_the_draw(session: Session, world: dict[str, list[int]]) -> None:
    """D2: the same seed over the same eligible evaluations draws the same ones, in the same
    order; another seed (almost always) others."""
    scope = region_scope(session, "450224")
    drawn = []
    for seed in (7, 7, 8):
        nested = session.begin_nested()
        sample = draw(session, scope, size=3, seed=seed)
        assert sample.seed == f"{seed:016x}"
        drawn.append([i.evaluation_id for i in sample.items])
        nested.rollback()
    assert drawn[0] == drawn[1]
    assert drawn[0] != drawn[2]


@pytest.mark.parametrize("size", [0, -1, 501, 10_000])
def test_D2_size_bounds_have_a_clear_error(
    session: Session, world: dict[str, list[int]], size: int
) -> None:
    with pytest.raises(DomainError) as refused:
        draw(session, region_scope(session, "450224"), size=size)
    assert refused.value.code == "callback_size_invalid"
    assert refused.value.message == "抽取数量应在 1 到 500 之间"


def test_D2_bad_parameters_have_clear_errors(session: Session, world: dict[str, list[int]]) -> None:
    everything = Scope.all()
    cases = (
        ({"region": "999999"}, "region_not_found"),
        ({"date_from": date(2026, 11, 9), "date_to": date(2026, 11, 1)}, "callback_period_invalid"),
        (
            {"date_from": date(2025, 1, 1), "date_to": date(2026, 11, 1)},
            "callback_period_too_long",
        ),
        ({"org_code": "NOPE"}, "org_not_found"),
        ({"staff_code": "NOPE"}, "staff_not_found"),
    )
    for params, code in cases:
        with pytest.raises(DomainError) as refused:
            draw(session, everything, size=5, **params)  # type: ignore[arg-type]
        assert refused.value.code == code, params
        assert refused.value.status_code in (403, 404, 422)


def test_D2_a_racing_draw_cannot_take_an_evaluation_of_an_open_sample(
    session: Session, world: dict[str, list[int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """D2: even when two draws count the same evaluations at once (simulated here by a draw
    that forgets to exclude open samples), the partial unique index refuses the second."""
    scope = region_scope(session, "450224")
    draw(session, scope)
    conditions = sampling.eligible_conditions

    def forgetful(e: sampling.Eligibility, s: Scope) -> list[Any]:
        return conditions(e, s)[:-1]

    monkeypatch.setattr(sampling, "eligible_conditions", forgetful)
    with pytest.raises(DomainError) as conflict:
        draw(session, scope, size=2)
    assert conflict.value.code == "callback_draw_conflict"
    assert conflict.value.status_code == 409
