"""P1: inheritance, merging, provenance, HCP_POLICY_DIR, and broken files refused in Chinese."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from haochaping.errors import InvalidInput, NotFound
from haochaping.policy.loader import (
    PolicyError,
    available_profiles,
    check_file,
    clear_cache,
    load_profile,
    load_with_provenance,
    resolve,
)
from haochaping.policy.schemas import ClockUnit

Write = Callable[..., Path]


def refused(name: str) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        load_profile(name)
    error = info.value
    assert isinstance(error, InvalidInput)
    assert error.code == "policy_invalid" and error.status_code == 422
    return error


# --- merging and provenance -----------------------------------------------------------------


def test_p1_child_overrides_only_what_it_sets(write_profile: Write) -> None:
    path = write_profile(
        "county", "extends: guangxi\nreminder_delay: {amount: 2, unit: natural_days}\n"
    )
    profile, provenance = load_with_provenance("county")
    assert profile.reminder_delay is not None and profile.reminder_delay.amount == 2
    assert provenance["reminder_delay"] == str(path)
    assert Path(provenance["default_rating.level"]).name == "guangxi.yaml"
    assert Path(provenance["rating_window"]).name == "national.yaml"
    assert profile.default_rating == load_profile("guangxi").default_rating
    assert [Path(f).stem for f in resolve("county").files] == ["county", "guangxi", "national"]


def test_c7_explicit_null_in_a_child_removes_the_parent_default(write_profile: Write) -> None:
    path = write_profile("county", "extends: guangxi\ndefault_rating: null\n")
    profile, provenance = load_with_provenance("county")
    assert profile.default_rating is None
    assert provenance["default_rating"] == str(path)
    assert not any(key.startswith("default_rating.") for key in provenance)


def test_p1_lists_and_catalogues_replace_whole(write_profile: Write) -> None:
    write_profile(
        "county",
        "extends: national\nbad_levels: [1]\n"
        "labels:\n  version: county-1\n"
        "  labels:\n    - {code: x.1, group: 其他, name: 测试标签, levels: [1]}\n",
    )
    profile, provenance = load_with_provenance("county")
    assert profile.bad_levels == [1]
    assert profile.labels.version == "county-1" and len(profile.labels.labels) == 1
    assert Path(provenance["labels"]).name == "county.yaml"


def test_p1_a_duration_is_one_value_half_of_one_is_refused(write_profile: Write) -> None:
    # Merging {amount: 48} into "24 hours" would invent a value no document wrote.
    path = write_profile("county", "extends: national\nreminder_delay: {amount: 48}\n")
    error = refused("county")
    assert str(path) in error.message and "reminder_delay.unit" in error.message
    assert "缺少此项" in error.message


def test_p1_hcp_policy_dir_wins_over_packaged(write_profile: Write, policy_dir: Path) -> None:
    packaged = load_profile("guangxi").version
    path = write_profile(
        "guangxi",
        "extends: national\ndefault_rating: {level: 4, delay: {amount: 3, unit: hours}}\n",
    )
    clear_cache()
    profile, provenance = load_with_provenance("guangxi")
    assert profile.version == "test-1" != packaged
    assert profile.default_rating is not None and profile.default_rating.level == 4
    assert provenance["default_rating.level"] == str(path)
    assert Path(provenance["levels.1.score"]).parent != policy_dir  # national still packaged
    assert "guangxi" in available_profiles()


def test_p1_cache_until_cleared(write_profile: Write) -> None:
    path = write_profile("county", "extends: national\n")
    first = load_profile("county")
    assert load_profile("county") is first
    path.write_text(path.read_text(encoding="utf-8").replace("test-1", "test-2"), "utf-8")
    assert load_profile("county").version == "test-1"
    clear_cache()
    assert load_profile("county").version == "test-2"


def test_p1_check_file_finds_parents_beside_it(tmp_path: Path) -> None:
    folder = tmp_path / "draft"
    folder.mkdir()
    (folder / "city.yaml").write_text(
        'name: city\ntitle: 某市\nversion: "c-1"\nextends: guangxi\n'
        "work_order: {verify: {amount: 1, unit: working_days}}\n",
        encoding="utf-8",
    )
    leaf = folder / "town.yaml"
    leaf.write_text('name: town\ntitle: 某镇\nversion: "t-1"\nextends: city\n', encoding="utf-8")
    profile = check_file(leaf)
    assert profile.name == "town" and profile.extends == "city"
    assert profile.work_order.verify is not None
    assert profile.work_order.verify.unit is ClockUnit.working_days
    assert profile.default_rating is not None and profile.default_rating.level == 5


def test_p1_unknown_profile_is_not_found() -> None:
    with pytest.raises(NotFound) as info:
        load_profile("atlantis")
    assert info.value.code == "policy_not_found" and "atlantis" in info.value.message
    with pytest.raises(NotFound):
        load_profile("../national")


# --- broken files ----------------------------------------------------------------------------


def test_p1_unknown_key_names_file_and_key(write_profile: Write) -> None:
    path = write_profile(
        "county", "extends: national\nwork_order:\n  verfy: {amount: 1, unit: hours}\n"
    )
    error = refused("county")
    assert str(path) in error.message and "work_order.verfy" in error.message
    assert "未知的配置项" in error.message
    assert error.details["errors"][0] == {
        "file": str(path),
        "key": "work_order.verfy",
        "reason": "未知的配置项（拼写错误，或此处不允许该项）",
    }


def test_p1_wrong_type_names_file_and_key(write_profile: Write) -> None:
    path = write_profile(
        "county",
        "extends: guangxi\n"
        "default_rating: {level: 5, delay: {amount: seven, unit: natural_days}}\n",
    )
    error = refused("county")
    assert str(path) in error.message
    assert "default_rating.delay.amount" in error.message and "应为整数" in error.message


def test_p1_wrong_clock_unit(write_profile: Write) -> None:
    write_profile("county", "extends: national\nrating_window: {amount: 1, unit: weeks}\n")
    error = refused("county")
    assert "rating_window.unit" in error.message and "working_days" in error.message


def test_p1_bad_boolean(write_profile: Write) -> None:
    write_profile("county", "extends: national\nscoring: {item_only_counts_for_units: maybe}\n")
    error = refused("county")
    assert "scoring.item_only_counts_for_units" in error.message
    assert "true 或 false" in error.message


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        ("levels:\n  6: {name: 超级满意, score: 12}\n", "levels", "1 到 5"),
        (
            "default_rating: {level: 9, delay: {amount: 7, unit: natural_days}}\n",
            "default_rating.level",
            "不能大于 5",
        ),
        ("bad_levels: [1, 7]\n", "bad_levels", "差评等级 7"),
        ("levels:\n  3: {score: -1}\n", "levels.3.score", "不能小于 0"),
    ],
)
def test_p1_bad_level_names_file_and_key(
    write_profile: Write, body: str, key: str, reason: str
) -> None:
    path = write_profile("county", "extends: national\n" + body)
    error = refused("county")
    assert f"文件 {path} 的配置项 {key}：" in error.message
    assert reason in error.message


def test_p1_cycle_is_refused(write_profile: Write) -> None:
    write_profile("alpha", "extends: beta\n")
    path = write_profile("beta", "extends: alpha\n")
    error = refused("alpha")
    assert str(path) in error.message and "extends" in error.message
    assert "alpha → beta → alpha" in error.message


def test_p1_self_extension_is_a_cycle(write_profile: Write) -> None:
    write_profile("alpha", "extends: alpha\n")
    assert "alpha → alpha" in refused("alpha").message


def test_p1_unknown_parent_is_refused(write_profile: Write) -> None:
    path = write_profile("county", "extends: nowhere\n")
    error = refused("county")
    assert str(path) in error.message and "extends" in error.message
    assert "找不到上级配置 “nowhere”" in error.message


def test_p1_root_profile_missing_values(write_profile: Write) -> None:
    path = write_profile("lonely", "bad_levels: [1, 2]\n")
    error = refused("lonely")
    assert str(path) in error.message and "levels" in error.message
    assert "缺少此项" in error.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('name: county\ntitle: x\nversion: "1"\nextends: [national\n', ["不是合法的 YAML", "行"]),
        (
            'name: county\ntitle: x\nversion: "1"\nextends: national\nextends: guangxi\n',
            ["重复出现", "extends"],
        ),
        ("- just\n- a list\n", ["键值映射"]),
        ("name: county\ntitle: x\nextends: national\n", ["version", "必须自己写明"]),
        ("name: county\ntitle: x\nversion: 2024.1\nextends: national\n", ["version", "加引号"]),
        ('name: other\ntitle: x\nversion: "1"\nextends: national\n', ["name", "文件名"]),
    ],
)
def test_p1_malformed_files_are_refused(write_profile: Write, text: str, words: list[str]) -> None:
    path = write_profile("county", text, header=False)
    error = refused("county")
    assert str(path) in error.message
    for word in words:
        assert word in error.message
