"""The ``remarks`` profile section (P1, G1, D2, D3): documented defaults and ZZ's 结果全公开."""

from __future__ import annotations

from pathlib import Path

import pytest

from haochaping.policy.loader import PolicyError, check_file, load_profile, load_with_provenance
from haochaping.policy.schemas import ClockUnit, RemarkCategory


def test_G1_zz_publishes_remarks_and_the_national_default_does_not() -> None:
    profile, provenance = load_with_provenance("zaozhuang")
    assert profile.remarks.publish is True
    assert Path(provenance["remarks.publish"]).name == "zaozhuang.yaml"
    assert Path(provenance["remarks.answer_within"]).name == "national.yaml"
    for name in ("national", "guangxi", "rongan", "guangdong", "hubei"):
        assert load_profile(name).remarks.publish is False, name


def test_remarks_defaults_are_complete() -> None:
    remarks = load_profile("national").remarks
    assert (remarks.answer_within.amount, remarks.answer_within.unit) == (
        15,
        ClockUnit.natural_days,
    )
    assert set(remarks.category_keywords) == set(RemarkCategory)
    assert "other" in remarks.topic_names()


def test_duplicate_topic_codes_are_refused(tmp_path: Path) -> None:
    file = tmp_path / "dup.yaml"
    file.write_text(
        """\
name: dup
title: 测试
version: "t-1"
extends: national
remarks:
  topics:
    - {code: a, name: 甲, keywords: []}
    - {code: a, name: 乙, keywords: []}
""",
        encoding="utf-8",
    )
    with pytest.raises(PolicyError):
        check_file(file)
