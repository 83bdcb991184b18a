"""``--now`` of the commands that take one: a bad time is refused with a Chinese hint and exit 2,
never a traceback, before anything touches the database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from haochaping.cli import app
from haochaping.config import get_settings


@pytest.mark.parametrize(
    "args",
    [
        ["tick", "--now", "garbage"],
        ["sms", "send", "--now", "2026-13-40"],
        ["import", "paper", "{file}", "--now", "昨天"],
        ["demo", "--now", "not-a-time"],
    ],
)
def test_a_bad_now_is_refused_without_a_traceback(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "untouched.db"
    monkeypatch.setenv("HCP_DATABASE_URL", f"sqlite:///{database}")
    monkeypatch.setenv("HCP_SMS_GATEWAY_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    paper = tmp_path / "paper.csv"
    paper.write_text("case_no,stage,level\n", encoding="utf-8")
    try:
        result = CliRunner().invoke(app, [a.replace("{file}", str(paper)) for a in args])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    assert "请使用 ISO 时间" in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not database.exists()
