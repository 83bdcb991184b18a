"""Issue 3: ``haochaping audit verify`` catches a row edited directly in the database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from haochaping.audit import service
from haochaping.audit.actions import AuditAction
from haochaping.cli.audit import app, cli_actor
from haochaping.cli.calendar import app as calendar_app
from haochaping.config import get_settings
from haochaping.db import Database

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "calendar-2027.csv"
T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.fixture
def runner(committed_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("HCP_DATABASE_URL", committed_db.url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def _fill(db: Database, count: int) -> None:
    with db.transaction() as session:
        for i in range(count):
            service.record(
                session,
                now=T0 + timedelta(minutes=i),
                actor="user:alice" if i % 2 else "cli:root",
                action=AuditAction.login if i % 2 else AuditAction.role_granted,
                target=f"t{i}",
                details={"i": i},
                ip="10.1.2.3" if i % 2 else "",
            )


def _sql(db: Database, statement: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(statement))


def test_audit_cli_verify_empty_log(runner: CliRunner) -> None:
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 0, result.output
    assert "审计日志完整" in result.output and "共 0 条" in result.output


def test_audit_cli_verify_catches_a_row_edited_in_the_database(
    runner: CliRunner, committed_db: Database
) -> None:
    _fill(committed_db, 5)
    good = runner.invoke(app, ["verify"])
    assert good.exit_code == 0, good.output
    assert "审计日志完整" in good.output and "共 5 条" in good.output
    match = re.search(r"末条 #5 ([0-9a-f]{64})", good.output)
    assert match is not None, good.output

    _sql(committed_db, "UPDATE audit_log SET target = 'forged' WHERE seq = 3")
    bad = runner.invoke(app, ["verify"])
    assert bad.exit_code == 1, bad.output
    assert "审计日志校验失败" in bad.output
    assert "第 3 条记录内容被修改（哈希不符）" in bad.output
    assert "此前的 2 条记录完好（至第 2 条）" in bad.output


def test_audit_cli_verify_catches_a_deleted_row(runner: CliRunner, committed_db: Database) -> None:
    _fill(committed_db, 4)
    _sql(committed_db, "DELETE FROM audit_log WHERE seq = 2")
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 1
    assert "第 2 条记录缺失（序号不连续）" in result.output


def test_audit_cli_anchor_catches_a_truncated_tail(
    runner: CliRunner, committed_db: Database
) -> None:
    _fill(committed_db, 4)
    first = runner.invoke(app, ["verify"])
    match = re.search(r"--anchor (4:[0-9a-f]{64})", first.output)
    assert match is not None, first.output
    anchor = match.group(1)
    assert runner.invoke(app, ["verify", "--anchor", anchor]).exit_code == 0

    _sql(committed_db, "DELETE FROM audit_log WHERE seq = 4")
    assert runner.invoke(app, ["verify"]).exit_code == 0  # the chain alone cannot tell
    result = runner.invoke(app, ["verify", "--anchor", anchor])
    assert result.exit_code == 1
    assert "锚点第 4 条记录不存在" in result.output


def test_audit_cli_verify_refuses_a_malformed_anchor(runner: CliRunner) -> None:
    result = runner.invoke(app, ["verify", "--anchor", "12:abc"])
    assert result.exit_code == 2
    assert "锚点" in result.output


def test_audit_cli_list_shows_newest_first_and_filters(
    runner: CliRunner, committed_db: Database
) -> None:
    _fill(committed_db, 5)
    result = runner.invoke(app, ["list", "--limit", "3"])
    assert result.exit_code == 0, result.output
    assert "共 5 条，显示最新 3 条" in result.output
    assert result.output.index("t4") < result.output.index("t3") < result.output.index("t2")
    assert "t1" not in result.output
    assert "登录" in result.output and "授予角色" in result.output
    assert "2026-11-23 09:04:00" in result.output  # Beijing time

    only = runner.invoke(app, ["list", "--action", "login"])
    assert "共 2 条" in only.output and "授予角色" not in only.output
    none = runner.invoke(app, ["list", "--actor", "user:nobody"])
    assert none.exit_code == 0 and "没有符合条件的审计记录" in none.output


def test_audit_cli_calendar_import_is_recorded(runner: CliRunner, committed_db: Database) -> None:
    imported = runner.invoke(calendar_app, ["import", str(EXAMPLE)])
    assert imported.exit_code == 0, imported.output
    with committed_db.transaction() as session:
        total, rows = service.list_entries(session, action=AuditAction.calendar_imported)
    assert total == 1
    entry = rows[0]
    assert entry.actor == cli_actor() and entry.target == "2027"
    assert service.entry_details(entry) == {
        "file": "calendar-2027.csv",
        "rows": 34,
        "inserted": 34,
        "updated": 0,
    }
    listed = runner.invoke(app, ["list"])
    assert "导入工作日历" in listed.output and "calendar-2027.csv" in listed.output
    assert runner.invoke(app, ["verify"]).exit_code == 0


def test_audit_cli_failed_calendar_import_records_nothing(
    runner: CliRunner, committed_db: Database, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("date,type,name\n2027-02-30,holiday,春节\n", encoding="utf-8")
    assert runner.invoke(calendar_app, ["import", str(bad)]).exit_code == 1
    with committed_db.transaction() as session:
        assert service.list_entries(session)[0] == 0
