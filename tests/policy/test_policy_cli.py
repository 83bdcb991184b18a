"""P1: ``haochaping policy show / check / list``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from haochaping.catalog.models import Region
from haochaping.cli import common
from haochaping.cli.policy import app
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.models import Base
from haochaping.policy.loader import PACKAGED_DIR


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    # One table row per line. COLUMNS alone is not enough: the consoles are created at import,
    # and pytest-xdist workers start with COLUMNS=80, which Rich then keeps as a fixed width.
    for shared in (common.console, common.err_console):
        monkeypatch.setattr(shared, "_width", 200)
    return CliRunner()


def row(output: str, key: str) -> str:
    """The table line of ``key`` (the key cell is the first one)."""
    lines = [line for line in output.splitlines() if line.strip("│┃ ").startswith(key + " ")]
    assert len(lines) == 1, output
    return lines[0]


def test_p1_show_profile_lists_every_key_with_its_file(runner: CliRunner) -> None:
    result = runner.invoke(app, ["show", "--profile", "rongan"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "继承链：rongan → guangxi → national" in out
    assert "融政监管字〔2021〕2号" in out
    report = row(out, "work_order.report")
    assert "2个工作日" in report and "rongan.yaml" in report
    registration = row(out, "work_order.registration")
    assert "当日" in registration and "rongan.yaml" in registration
    default = row(out, "default_rating.level")
    assert "5（非常满意）" in default and "guangxi.yaml" in default
    assert "7个自然日" in row(out, "default_rating.delay")
    assert "national.yaml" in row(out, "labels")
    assert "national.yaml" in row(out, "reminder_delay")
    assert "工作人员推诿扯皮" in out  # the label catalogue is shown too


def test_p1_show_needs_exactly_one_target(runner: CliRunner) -> None:
    result = runner.invoke(app, ["show"])
    assert result.exit_code == 1 and "二者选一" in result.output
    missing = runner.invoke(app, ["show", "--profile", "atlantis"])
    assert missing.exit_code == 1 and "policy_not_found" in missing.output


def test_p1_check_accepts_a_valid_file(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", str(PACKAGED_DIR / "hubei.yaml")])
    assert result.exit_code == 0, result.output
    assert "OK" in result.output and "hubei" in result.output
    assert "湖北省政务管理办公室-2019-09-17" in result.output


def test_p1_check_refuses_a_broken_file_in_chinese(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "county.yaml"
    bad.write_text(
        'name: county\ntitle: 某县\nversion: "1"\nextends: guangxi\n'
        "text_review: {window: {amount: 15, unit: natural_days}, silence: true}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["check", str(bad)])
    assert result.exit_code == 1
    assert "policy_invalid" in result.output and "text_review.silence" in result.output
    assert "county.yaml" in result.output and "未知的配置项" in result.output
    assert "OK" not in result.output


def test_p1_list_shows_profiles_with_title_and_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0, result.output
    for name, version in [("guangxi", "桂数发〔2019〕21号"), ("rongan", "融政监管字〔2021〕2号")]:
        assert version in row(result.output, name)
    assert "广东省政务服务“好差评”管理办法" in row(result.output, "guangdong")


def test_p1_list_flags_a_broken_profile(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken.yaml").write_text("name: broken\n", encoding="utf-8")
    monkeypatch.setenv("HCP_POLICY_DIR", str(tmp_path))
    get_settings.cache_clear()
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 1
    assert "无效" in row(result.output, "broken") and "guangxi" in result.output


def test_p1_show_region_resolves_through_the_database(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    database = Database(url)
    Base.metadata.create_all(database.engine)
    with database.transaction() as session:
        for code, parent, path, profile in [
            ("450000", None, "/450000/", "guangxi"),
            ("450200", "450000", "/450000/450200/", None),
            ("450224", "450200", "/450000/450200/450224/", "rongan"),
            ("450225", "450200", "/450000/450200/450225/", None),
        ]:
            session.add(
                Region(
                    code=code,
                    name=code,
                    level="county",
                    parent_code=parent,
                    path=path,
                    profile=profile,
                )
            )
            session.flush()
    database.dispose()
    monkeypatch.setenv("HCP_DATABASE_URL", url)
    get_settings.cache_clear()

    result = runner.invoke(app, ["show", "450224"])
    assert result.exit_code == 0, result.output
    assert "行政区划 450224 适用配置：rongan" in result.output
    assert "rongan.yaml" in row(result.output, "work_order.appeal")

    inherited = runner.invoke(app, ["show", "450225"])
    assert inherited.exit_code == 0, inherited.output
    assert "适用配置：guangxi" in inherited.output
    assert "继承链：guangxi → national" in inherited.output

    unknown = runner.invoke(app, ["show", "999999"])
    assert unknown.exit_code == 1 and "region_not_found" in unknown.output
