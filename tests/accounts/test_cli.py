"""Issue 3: ``haochaping user add|list|disable|roles`` and the demo accounts."""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from haochaping.accounts import service as accounts
from haochaping.accounts.models import Role, User
from haochaping.accounts.passwords import verify_password
from haochaping.audit.models import AuditEntry
from haochaping.cli.users import app
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.demo.catalogue import build_catalogue, load_catalogue
from haochaping.models import Base
from tests.factories import T0, make_catalog


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = Database(url)
    Base.metadata.create_all(db.engine)
    with db.transaction() as session:
        make_catalog(session)
    monkeypatch.setenv("HCP_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()
    db.dispose()


def _user(db: Database, username: str) -> User:
    with db.transaction() as session:
        return session.scalars(select(User).where(User.username == username)).one()


def test_add_prints_the_initial_password_once(cli_db: Database) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["add", "zgb-rongan", "--name", "融安县政管办", "--role", "supervisor:450224"],
    )
    assert result.exit_code == 0, result.output
    assert "已创建账号" in result.output and "融安县" in result.output
    found = re.search(r"初始密码：(\S+)", result.output)
    assert found
    user = _user(cli_db, "zgb-rongan")
    assert verify_password(user.password_hash, found.group(1)) and user.must_change_password
    with cli_db.transaction() as session:
        entries = list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))
    assert [e.action for e in entries] == ["user_created", "role_granted"]
    assert entries[0].actor.startswith("cli:")
    assert all(found.group(1) not in e.details for e in entries)

    again = runner.invoke(app, ["add", "zgb-rongan", "--name", "重复"])
    assert again.exit_code == 1 and "username_taken" in again.output


def test_add_with_a_bad_role_creates_nothing(cli_db: Database) -> None:
    result = CliRunner().invoke(app, ["add", "lisi", "--name", "李四", "--role", "org_manager:X9"])
    assert result.exit_code == 1
    assert "unknown_scope" in result.output and "未找到机构" in result.output
    with cli_db.transaction() as session:
        assert accounts.find_user(session, "lisi") is None


def test_list_roles_and_disable(cli_db: Database) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["add", "wangwu", "--name", "王五", "--role", "admin"]).exit_code == 0
    assert runner.invoke(app, ["add", "zhaoliu", "--name", "赵六"]).exit_code == 0

    shown = runner.invoke(app, ["roles", "zhaoliu"])
    assert shown.exit_code == 0 and "暂无角色" in shown.output

    granted = runner.invoke(
        app, ["roles", "zhaoliu", "--grant", "org_manager:O1", "--grant", "window_staff:S1"]
    )
    assert granted.exit_code == 0, granted.output
    assert "已授予 机构管理员 org_manager:O1" in granted.output
    assert "融安县公安局" in granted.output and "工作人员S1" in granted.output

    revoked = runner.invoke(app, ["roles", "zhaoliu", "--revoke", "window_staff:S1"])
    assert revoked.exit_code == 0 and "已撤销" in revoked.output
    assert "window_staff:S1" not in revoked.output.split("已撤销")[1].split("\n", 1)[1]

    bad = runner.invoke(app, ["roles", "zhaoliu", "--grant", "admin:450000"])
    assert bad.exit_code == 1 and "scope_not_allowed" in bad.output
    missing = runner.invoke(app, ["roles", "nobody"])
    assert missing.exit_code == 1 and "user_not_found" in missing.output

    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0, listed.output
    assert "wangwu" in listed.output and "系统管理员" in listed.output
    assert "zhaoliu" in listed.output and "org_manager:O1" in listed.output
    assert "待修改初始密码" in listed.output

    disabled = runner.invoke(app, ["disable", "zhaoliu"])
    assert disabled.exit_code == 0 and "已停用账号" in disabled.output
    assert _user(cli_db, "zhaoliu").disabled
    assert "已停用" in runner.invoke(app, ["list"]).output
    assert "已是停用状态" in runner.invoke(app, ["disable", "zhaoliu"]).output


def test_list_shows_a_locked_account(cli_db: Database) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["list"]).output.startswith("尚无账号")
    runner.invoke(app, ["add", "lisi", "--name", "李四"])
    with cli_db.transaction() as session:
        user = session.scalars(select(User).where(User.username == "lisi")).one()
        user.locked_until = T0.replace(year=2099)
    assert "锁定中" in runner.invoke(app, ["list"]).output


def test_demo_accounts_one_per_role(session: Session) -> None:
    load_catalogue(session, build_catalogue(random.Random("catalogue-2026")))
    made = accounts.create_demo_accounts(session, now=T0, actor="cli:demo")
    roles = {g.role for account in made for g in account.grants}
    assert roles == {r.value for r in Role}
    assert all(a.initial_password for a in made)
    by_name = {a.username: a for a in made}
    province = by_name["zgb-gx"]
    assert [g.spec for g in province.grants] == ["supervisor:450000", "pii_viewer:450000"]
    assert by_name["ck-rongan-ga-01"].grants[0].spec == "window_staff:450224-GA-01"
    assert by_name["jg-rongan-ga"].grants[0].scope_name == "融安县公安局"
    # Running it again leaves the accounts alone.
    again = accounts.create_demo_accounts(session, now=T0, actor="cli:demo")
    assert all(a.initial_password is None for a in again)
    assert [a.username for a in again] == [a.username for a in made]
