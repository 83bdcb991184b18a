"""P1: the six shipped profiles load, validate, and carry what their documents fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from haochaping.policy.loader import (
    PACKAGED_DIR,
    available_profiles,
    check_file,
    load_profile,
    load_with_provenance,
)
from haochaping.policy.schemas import ClockUnit, Duration, Profile

SHIPPED = ["national", "guangxi", "guangdong", "hubei", "zaozhuang", "rongan"]


def days(n: int) -> Duration:
    return Duration(amount=n, unit=ClockUnit.natural_days)


def working(n: int) -> Duration:
    return Duration(amount=n, unit=ClockUnit.working_days)


def hours(n: int) -> Duration:
    return Duration(amount=n, unit=ClockUnit.hours)


def source(provenance: dict[str, str], key: str) -> str:
    return Path(provenance[key]).name


@pytest.mark.parametrize("name", SHIPPED)
def test_p1_every_shipped_profile_loads_and_validates(name: str) -> None:
    profile = load_profile(name)
    assert isinstance(profile, Profile)
    assert profile.name == name and profile.title and profile.version
    assert check_file(PACKAGED_DIR / f"{name}.yaml") == profile


def test_p1_available_profiles_lists_the_shipped_ones() -> None:
    assert set(SHIPPED) <= set(available_profiles())


def test_p1_every_profile_has_its_own_version() -> None:
    versions = [load_profile(name).version for name in SHIPPED]
    assert len(set(versions)) == len(versions)
    assert load_profile("guangxi").version == "桂数发〔2019〕21号"
    assert load_profile("rongan").version == "融政监管字〔2021〕2号"


def test_p1_inheritance_chain() -> None:
    assert load_profile("national").extends is None
    for name in ("guangxi", "guangdong", "hubei", "zaozhuang"):
        assert load_profile(name).extends == "national"
    assert load_profile("rongan").extends == "guangxi"


def test_p1_national_is_complete() -> None:
    # national.yaml sets every field itself: nothing is left to a code default.
    _, provenance = load_with_provenance("national")
    top = {key.split(".")[0] for key in provenance}
    assert top == set(Profile.model_fields) - {"extends"}
    assert {Path(f).name for f in provenance.values()} == {"national.yaml"}


@pytest.mark.parametrize("name", SHIPPED)
def test_b1_five_levels_scores_and_bad_levels(name: str) -> None:
    profile = load_profile(name)
    assert {k: (v.name, v.score) for k, v in profile.levels.items()} == {
        1: ("非常不满意", 0),
        2: ("不满意", 3),
        3: ("基本满意", 6),
        4: ("满意", 8),
        5: ("非常满意", 10),
    }
    assert profile.bad_levels == [1, 2]
    assert profile.is_bad(2) and not profile.is_bad(3)


def test_b1_hubei_names_come_from_hubei_and_scores_from_national() -> None:
    # HB Art.12 names the levels but gives no scores: mappings merge key by key.
    _, provenance = load_with_provenance("hubei")
    assert source(provenance, "levels.3.name") == "hubei.yaml"
    assert source(provenance, "levels.3.score") == "national.yaml"
    _, gx = load_with_provenance("guangxi")
    assert source(gx, "levels.3.score") == "guangxi.yaml"  # GX Art.8 fixes the scores


def test_c7_guangxi_default_is_very_satisfied_after_7_natural_days() -> None:
    default = load_profile("guangxi").default_rating
    assert default is not None
    assert default.level == 5 and default.delay == days(7)


def test_c7_hubei_default_is_basically_satisfied_after_7_natural_days() -> None:
    default = load_profile("hubei").default_rating
    assert default is not None
    assert default.level == 3 and default.delay == days(7)


@pytest.mark.parametrize("name", ["national", "guangdong", "zaozhuang"])
def test_c7_no_default_rating_where_no_document_sets_one(name: str) -> None:
    profile, provenance = load_with_provenance(name)
    assert profile.default_rating is None
    assert source(provenance, "default_rating") == "national.yaml"


def test_c7_rongan_inherits_the_guangxi_default() -> None:
    profile, provenance = load_with_provenance("rongan")
    assert profile.default_rating == load_profile("guangxi").default_rating
    assert source(provenance, "default_rating.level") == "guangxi.yaml"
    assert source(provenance, "default_rating.delay") == "guangxi.yaml"


def test_f5_rongan_overrides_the_work_order_deadlines_in_working_days() -> None:
    profile, provenance = load_with_provenance("rongan")
    wo = profile.work_order
    assert wo.registration == working(0)
    assert wo.revisit == working(0)
    assert wo.report == working(2)
    assert wo.report_upward == working(4)
    assert wo.appeal == working(1)
    assert wo.appeal_review == working(0)
    assert wo.rectify == working(2)  # RA 附件3 "2个工作日内整改完毕"
    for step in ("registration", "revisit", "report", "report_upward", "appeal", "appeal_review"):
        assert source(provenance, f"work_order.{step}") == "rongan.yaml"
    # Everything else is Guangxi's or the national default.
    assert source(provenance, "text_review.window") == "guangxi.yaml"
    assert source(provenance, "scoring.item_only_counts_for_units") == "guangxi.yaml"
    assert source(provenance, "labels") == "national.yaml"
    assert source(provenance, "reminder_delay") == "national.yaml"
    assert profile.text_review == load_profile("guangxi").text_review
    assert profile.scoring.item_only_counts_for_units is False


def test_f1_f2_rectification_and_verification_deadlines() -> None:
    gx = load_profile("guangxi").work_order
    assert gx.rectify == days(15)
    hb = load_profile("hubei").work_order
    assert hb.verify == hours(24) and hb.rectify == days(15)
    zz = load_profile("zaozhuang").work_order
    assert zz.revisit == working(0)  # F4 "第一时间"


def test_c5_c8_c6_e1_windows() -> None:
    gd, gd_prov = load_with_provenance("guangdong")
    assert gd.reminder_delay == hours(24)
    assert source(gd_prov, "reminder_delay") == "guangdong.yaml"
    assert gd.follow_up_window == days(15)  # GD "一定期限": the documented default
    assert source(gd_prov, "follow_up_window") == "national.yaml"
    zz, zz_prov = load_with_provenance("zaozhuang")
    assert zz.supplementary_window == working(5)
    assert source(zz_prov, "supplementary_window") == "zaozhuang.yaml"
    gx = load_profile("guangxi")
    assert gx.text_review.window == days(15) and gx.text_review.silence_means_approved
    assert load_profile("national").rating_window == days(7)


def test_b2_b5_c4_scoring() -> None:
    assert load_profile("guangxi").scoring.item_only_counts_for_units is False
    assert load_profile("national").scoring.item_only_counts_for_units is True
    assert load_profile("guangdong").scoring.item_only_counts_for_units is True
    for name in SHIPPED:
        assert load_profile(name).scoring.batch_counts_each_transaction is True
        assert load_profile(name).bad_review_requires_reason is True


def test_b4_label_catalogue_is_ra_annex_1() -> None:
    labels = load_profile("rongan").labels
    assert labels.version == "RA-2021-附件1"
    groups: dict[str, int] = {}
    for label in labels.labels:
        groups[label.group] = groups.get(label.group, 0) + 1
    assert groups == {"服务态度": 3, "服务质量": 8, "服务效率": 5, "服务环境": 5}
    by_code = labels.by_code()
    assert by_code["attitude.1"].name == "不一次性告知"
    assert by_code["quality.8"].name == "在办事指南之外增加新的审批条件"
    assert by_code["environment.4"].name == "服务网络（系统）不稳定"
    assert by_code["efficiency.3"].name == "排队等候时间长、重复取号排队"
    assert len(labels.for_level(1)) == 21 and labels.for_level(5) == []
    assert "其他" not in {label.group for label in labels.labels}  # free text, not a label
