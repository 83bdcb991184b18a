"""Text review (E1) fixtures: a catalogue with rated cases, and a test profile under which
silence does not approve."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.catalog.models import Region
from haochaping.config import get_settings
from haochaping.evaluations.models import Evaluation
from haochaping.policy.loader import clear_cache
from haochaping.textreview import service
from haochaping.textreview.models import TextReview
from tests.factories import T0, occasions_of, rate, register

STRICT = "gx_strict"
# GX with the opposite silence rule, and bad reviews allowed without a reason, so that both
# halves of E1's condition can be tested.
STRICT_YAML = f"""\
name: {STRICT}
title: 测试配置：逾期未审不视为通过
version: "test-1"
extends: guangxi
text_review:
  window: {{amount: 15, unit: natural_days}}
  silence_means_approved: false
bad_review_requires_reason: false
"""


@pytest.fixture
def strict_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A profile ``gx_strict`` in a private ``HCP_POLICY_DIR``; returns its name."""
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / f"{STRICT}.yaml").write_text(STRICT_YAML, encoding="utf-8")
    monkeypatch.setenv("HCP_POLICY_DIR", str(directory))
    get_settings.cache_clear()
    clear_cache()
    yield STRICT
    get_settings.cache_clear()
    clear_cache()


def use_profile(session: Session, region_code: str, profile: str) -> None:
    """Cases registered in ``region_code`` from now on fall under ``profile`` (P1)."""
    region = session.get(Region, region_code)
    assert region is not None
    region.profile = profile
    session.flush()


def rated(
    session: Session,
    case_no: str,
    level: int,
    *,
    item: str = "I-IMM",
    staff: str = "S1",
    labels: list[str] | None = None,
    text: str | None = None,
) -> int:
    """Register a case, rate its first occasion; the evaluation's id."""
    case = register(session, case_no, item, staff_code=staff)
    occasion = occasions_of(session, case)[0]
    return rate(session, occasion.id, level, labels=labels, text=text).id


def review_of(session: Session, evaluation_id: int) -> TextReview:
    """The evaluation's review, opened here if the evaluation service has not opened it."""
    service.open_reviews(session=session, evaluation_ids=[evaluation_id], now=T0)
    review = session.scalar(select(TextReview).where(TextReview.evaluation_id == evaluation_id))
    assert review is not None
    return review


def evaluation_row(session: Session, evaluation_id: int) -> dict[str, Any]:
    """Every stored column of the evaluation, read from the database (E1: never changes)."""
    session.expire_all()
    table = Evaluation.__table__
    row = session.execute(select(table).where(table.c.id == evaluation_id)).mappings().one()
    return dict(row)
