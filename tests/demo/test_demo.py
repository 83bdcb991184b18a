"""``haochaping demo``: the demo province holds what the rules say a real one would."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from haochaping.access.scope import Scope
from haochaping.callbacks.models import CallbackItem
from haochaping.cases.models import Bundle, Case, Occasion, OccasionStatus
from haochaping.catalog.models import Region, ServiceItem, Staff, Window
from haochaping.cli import app
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.demo.generator import (
    DemoSummary,
    credit_code,
    generate_demo,
    id_number,
    reset_database,
)
from haochaping.evaluations.models import Credit, Evaluation, FollowUp
from haochaping.policy.service import get_profile
from haochaping.remarks.models import Remark
from haochaping.scores.schemas import Dimension
from haochaping.scores.service import compute_scores

# Friday 2026-11-20, 12:00 Beijing time.
NOW = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
CASES, DAYS, SEED = 300, 30, 2026

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_USCC = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def _valid_id(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(value[:17], _ID_WEIGHTS, strict=True))
    return value[17] == "10X98765432"[total % 11]


def _valid_uscc(value: str) -> bool:
    if len(value) != 18 or any(c not in _USCC for c in value):
        return False
    total = sum(_USCC.index(c) * w for c, w in zip(value[:17], _USCC_WEIGHTS, strict=True))
    return value[17] == _USCC[(31 - total % 31) % 31]


def _generate(db: Database, cases: int = CASES) -> DemoSummary:
    calls: list[tuple[int, int]] = []
    summary = generate_demo(
        db=db,
        cases=cases,
        days=DAYS,
        seed=SEED,
        now=NOW,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert calls[-1] == (cases, cases)
    return summary


def test_check_characters_match_published_examples() -> None:
    assert _valid_id("11010519491231002X") and _valid_uscc("91350100M000100Y43")
    rng = random.Random(1)
    assert all(_valid_id(id_number(rng, "450224", NOW.date())) for _ in range(200))
    assert all(_valid_uscc(credit_code(rng, "450224")) for _ in range(200))


def test_demo_province(committed_db: Database) -> None:
    summary = _generate(committed_db)
    with committed_db.transaction() as s:
        _check_catalogue(s)
        _check_cases(s)
        _check_evaluations(s)
        _check_scores(s)
        assert summary.cases == CASES == s.scalar(select(func.count()).select_from(Case))
        _check_voices(s, summary.remarks, summary.callback_items)
        assert summary.per_channel == dict(
            s.execute(
                select(Evaluation.channel, func.count())
                .where(Evaluation.is_default.is_(False))
                .group_by(Evaluation.channel)
            ).all()
        )


def _check_voices(s: Session, remarks: int, sampled: int) -> None:
    """D2, D3: the console's 综合点评 and 监督查评 pages have something to show."""
    statuses = dict(s.execute(select(Remark.status, func.count()).group_by(Remark.status)).all())
    assert sum(statuses.values()) == remarks > 0
    assert {"received", "routed", "answered"} <= set(statuses)
    items = list(s.scalars(select(CallbackItem)))
    assert len(items) == sampled > 0
    assert {i.outcome for i in items} >= {"confirmed", "denied", None}
    rated = s.scalars(select(Evaluation).where(Evaluation.id.in_([i.evaluation_id for i in items])))
    assert all(not e.is_default and e.revoked_at is None for e in rated)


def _check_catalogue(s: Session) -> None:
    regions = {r.code: r for r in s.scalars(select(Region))}
    assert regions["450000"].profile == "guangxi" and regions["450224"].profile == "rongan"
    assert regions["450224100000"].path == "/450000/450200/450224/450224100000/"
    assert all(r.path.startswith("/450000/") for r in regions.values())
    names = set(s.scalars(select(ServiceItem.name)))
    assert {"居民身份证换领", "不动产转移登记", "企业设立登记", "社会保障卡申领"} <= names
    per_window = Counter(s.scalars(select(Staff.window_id)))
    windows = s.scalars(select(Window.id)).all()
    assert windows and all(2 <= per_window[w] <= 4 for w in windows)


def _check_cases(s: Session) -> None:
    rows = s.scalars(select(Case)).all()
    handling = Counter(c.handling for c in rows)
    assert 0.45 < handling["window"] / len(rows) < 0.65
    assert 0.2 < handling["online"] / len(rows) < 0.4
    assert 0.07 < handling["terminal"] / len(rows) < 0.23
    accepted = {c.id: c.accepted_at for c in rows if c.accepted_at is not None}
    assert len(accepted) == len(rows)
    assert all(NOW - timedelta(days=DAYS + 1) < at <= NOW for at in accepted.values())
    promised = [c for c in rows if c.kind == "promised"]
    assert any(c.completed_at is None for c in promised)
    assert any(c.completed_at and c.completed_at > accepted[c.id] for c in promised)
    assert any(c.batch_size > 1 for c in rows)
    assert all(c.batch_size == 1 for c in rows if c.handling != "window")
    for c in rows:
        if c.applicant_type == "person":
            assert c.applicant_id_no and _valid_id(c.applicant_id_no)
        else:
            assert c.applicant_id_no and _valid_uscc(c.applicant_id_no)
        assert c.applicant_phone and len(c.applicant_phone) == 11
    bundles = s.scalars(select(Bundle)).all()
    assert bundles
    for bundle in bundles:
        members = [c for c in rows if c.bundle_id == bundle.id]
        assert 2 <= len(members) <= 3 and len({c.org_id for c in members}) == len(members)


def _check_evaluations(s: Session) -> None:
    evaluations = s.scalars(select(Evaluation)).all()
    n_occasions = s.scalar(select(func.count()).select_from(Occasion)) or 0
    assert 0 < len(evaluations) <= n_occasions
    assert len({e.occasion_id for e in evaluations}) == len(evaluations)  # C1
    statuses = dict(s.execute(select(Occasion.id, Occasion.status)).all())
    rated = {e.occasion_id for e in evaluations}
    assert {o for o, st in statuses.items() if st != OccasionStatus.open.value} == rated

    active = [e for e in evaluations if not e.is_default]
    assert 0.6 < len(active) / n_occasions < 0.8
    assert {e.channel for e in active} == set(range(1, 8))  # D5, all seven
    bad = [e for e in active if e.is_bad]
    assert bad and len(bad) < 0.08 * len(active)
    for e in bad:  # B4, B6
        assert e.level in (1, 2) and (e.label_codes or e.text)
        allowed = {
            label.code for label in get_profile(name=e.profile_name).labels.for_level(e.level)
        }
        assert set(e.label_codes) <= allowed
    levels = Counter(e.level for e in active)
    assert levels[5] + levels[4] > 0.85 * len(active)

    defaults = [e for e in evaluations if e.is_default]  # C7: GX default is 非常满意
    assert defaults
    assert all(e.level == 5 and e.channel is None for e in defaults)
    assert {e.profile_name for e in defaults} <= {"guangxi", "rongan"}
    opened = dict(s.execute(select(Occasion.id, Occasion.opens_at)).all())
    assert all(e.rated_at == opened[e.occasion_id] + timedelta(days=7) <= NOW for e in defaults)
    supplementary = [e for e in active if e.supplementary]
    assert supplementary
    on_site = dict(s.execute(select(Occasion.id, Occasion.on_site)).all())
    assert all(on_site[e.occasion_id] for e in supplementary)
    assert s.scalar(select(func.count()).select_from(FollowUp))


def _check_scores(s: Session) -> None:
    rows = {
        r.code: r for r in compute_scores(session=s, dimension=Dimension.region, access=Scope.all())
    }
    province = rows["450000"]
    credited = s.scalar(
        select(func.count(distinct(Credit.evaluation_id))).where(Credit.counts_for_units.is_(True))
    )
    defaults = s.scalar(
        select(func.count(distinct(Credit.evaluation_id))).where(
            Credit.counts_for_units.is_(True), Credit.is_default.is_(True)
        )
    )
    assert credited and province.all.evaluations == credited
    assert province.default.evaluations == defaults
    assert province.all.average is not None and 8 < province.all.average <= 10
    assert "450224100000" in rows  # townships score too, and roll up into their county


def _fingerprint(db: Database) -> tuple[object, ...]:
    with db.transaction() as s:
        return (
            tuple(s.scalars(select(Case.case_no).order_by(Case.case_no))),
            tuple(
                s.execute(
                    select(
                        Evaluation.level, Evaluation.channel, Evaluation.is_default, func.count()
                    )
                    .group_by(Evaluation.level, Evaluation.channel, Evaluation.is_default)
                    .order_by(Evaluation.level, Evaluation.channel, Evaluation.is_default)
                ).all()
            ),
            s.scalar(select(func.sum(Evaluation.score))),
            s.scalar(select(func.count()).select_from(FollowUp)),
        )


def test_same_seed_same_demo(committed_db: Database) -> None:
    first = _generate(committed_db, 120)
    fingerprint = _fingerprint(committed_db)
    reset_database(committed_db)
    with committed_db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(Region)) == 0
    second = _generate(committed_db, 120)
    assert _fingerprint(committed_db) == fingerprint
    assert {**vars(first), "seconds": 0} == {**vars(second), "seconds": 0}


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("HCP_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    monkeypatch.setenv("COLUMNS", "160")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_demo_then_refuses_without_reset(cli: CliRunner) -> None:
    args = ["demo", "--cases", "200", "--days", "20", "--now", "2026-11-20T12:00:00+08:00"]
    result = cli.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "演示数据已生成" in out and "演示数据概况" in out
    assert "办件" in out and "200" in out and "默认评价" in out and "差评" in out
    assert "大厅评价器/平板" in out and "短信" in out
    assert "haochaping serve" in out and "http://127.0.0.1:8000/console/" in out
    assert "docs/signing.md" in out

    again = cli.invoke(app, args)
    assert again.exit_code == 1
    assert "已有数据" in again.output and "--reset" in again.output

    wrong = cli.invoke(app, ["demo", "--now", "yesterday"])
    assert wrong.exit_code == 2 and "ISO" in wrong.output

    reset = cli.invoke(app, [*args[:2], "50", *args[3:], "--reset"])
    assert reset.exit_code == 0, reset.output
    assert "已清空现有数据" in reset.output
    db = Database(get_settings().database_url)
    try:
        with db.transaction() as s:
            assert s.scalar(select(func.count()).select_from(Case)) == 50
    finally:
        db.dispose()
