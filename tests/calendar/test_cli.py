"""P2: the ``haochaping calendar`` commands an administrator uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from haochaping.cli.calendar import app
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.models import Base

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "calendar-2027.csv"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = Database(url)
    Base.metadata.create_all(db.engine)
    db.dispose()
    monkeypatch.setenv("HCP_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "160")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_p2_cli_import_then_show_and_check(runner: CliRunner) -> None:
    before = runner.invoke(app, ["check", "2027-02-08"])
    assert before.exit_code == 0, before.output
    assert "工作日" in before.output and "估算" in before.output

    result = runner.invoke(app, ["import", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert "已导入" in result.output and "2027" in result.output
    assert "节假日 29 天" in result.output and "调休上班 5 天" in result.output
    assert "新增 34 条" in result.output

    after = runner.invoke(app, ["check", "2027-02-08"])
    assert after.exit_code == 0, after.output
    assert "休息日" in after.output and "春节" in after.output and "估算" not in after.output

    makeup = runner.invoke(app, ["check", "2027-02-14"])
    assert "星期日" in makeup.output and "工作日" in makeup.output

    shown = runner.invoke(app, ["show", "2027"])
    assert shown.exit_code == 0, shown.output
    assert "官方安排" in shown.output and "2027-10-09" in shown.output
    assert "调休上班" in shown.output


def test_p2_cli_show_builtin_and_estimated_years(runner: CliRunner) -> None:
    builtin = runner.invoke(app, ["show", "2026"])
    assert builtin.exit_code == 0, builtin.output
    assert "内置" in builtin.output and "2026-10-10" in builtin.output
    unknown = runner.invoke(app, ["show", "2031"])
    assert unknown.exit_code == 0 and "无官方安排" in unknown.output


def test_p2_cli_import_bad_file_lists_rows_and_exits_1(runner: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "date,type,name\n2027-01-01,holiday,元旦\n2027-02-30,holiday,春节\n2027-03-01,rest,x\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["import", str(bad)])
    assert result.exit_code == 1
    assert "calendar_file_invalid" in result.output and "2 处错误" in result.output
    assert "2027-02-30" in result.output and "rest" in result.output
    check = runner.invoke(app, ["check", "2027-01-01"])
    assert "估算" in check.output  # nothing was loaded


def test_p2_cli_check_refuses_a_bad_date(runner: CliRunner) -> None:
    result = runner.invoke(app, ["check", "2027-13-01"])
    assert result.exit_code == 2 and "格式不对" in result.output
