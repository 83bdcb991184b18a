"""``haochaping keys init | rotate | status`` and the key file of ``haochaping demo`` (C9: the
rater's information is confidential, so it is stored encrypted under keys that can rotate)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from haochaping import migrate
from haochaping.cases.models import Case
from haochaping.cli import app
from haochaping.cli import keys as keys_cli
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.pii import keyring as kr
from haochaping.pii.cipher import key_id_of
from tests.factories import make_catalog, register


@dataclass
class Env:
    runner: CliRunner
    key_file: Path
    url: str


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Env]:
    key_file = tmp_path / "haochaping-keys.json"
    url = f"sqlite:///{tmp_path / 'keys.db'}"
    monkeypatch.setenv("HCP_DATABASE_URL", url)
    monkeypatch.setenv("HCP_KEY_FILE", str(key_file))
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    previous = kr.configure(None)  # the commands use the key file, as in production
    try:
        yield Env(CliRunner(), key_file, url)
    finally:
        kr.configure(previous)
        get_settings.cache_clear()


def _raw(db: Database) -> list[str]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT applicant_name, applicant_id_no, applicant_phone FROM cases")
        ).all()
    return [v for row in rows for v in row if v is not None]


def test_c9_keys_init_rotate_status(env: Env) -> None:
    init = env.runner.invoke(app, ["keys", "init"])
    assert init.exit_code == 0, init.output
    assert "已创建个人信息加密密钥文件" in init.output and "k1" in init.output
    assert stat.S_IMODE(env.key_file.stat().st_mode) == 0o600
    first = kr.load_keyring(env.key_file)

    again = env.runner.invoke(app, ["keys", "init"])
    assert again.exit_code == 1
    assert "key_file_exists" in again.output and "不予覆盖" in again.output
    assert kr.load_keyring(env.key_file) == first

    migrate.upgrade_head(env.url)
    db = Database(env.url)
    try:
        with db.transaction() as s:
            make_catalog(s)
            for i in range(5):
                register(s, f"CLI-{i}")
        shown = env.runner.invoke(app, ["keys", "status"])
        assert shown.exit_code == 0, shown.output
        assert "k1（当前密钥）" in shown.output and "15" in shown.output
        assert "全部个人信息均已使用当前密钥加密" in shown.output

        rotated = env.runner.invoke(app, ["keys", "rotate", "--batch-size", "2"])
        assert rotated.exit_code == 0, rotated.output
        assert "已新增密钥 k2" in rotated.output and "轮换完成" in rotated.output
        assert "重新加密办件 5 件" in rotated.output
        ring = kr.load_keyring(env.key_file)
        assert ring.active_kid == "k2" and ring.keys["k1"] == first.keys["k1"]
        assert {key_id_of(v) for v in _raw(db)} == {"k2"}
        with db.transaction() as s:
            assert {(c.applicant_name, c.applicant_phone) for c in s.scalars(select(Case))} == {
                ("张三丰", "13812348000")
            }

        shown = env.runner.invoke(app, ["keys", "status"])
        assert "k2（当前密钥）" in shown.output
        assert "全部个人信息均已使用当前密钥加密" in shown.output

        resumed = env.runner.invoke(app, ["keys", "rotate", "--resume"])
        assert resumed.exit_code == 0, resumed.output
        assert "沿用当前密钥 k2" in resumed.output and "重新加密办件 0 件" in resumed.output
        assert set(kr.load_keyring(env.key_file).keys) == {"k1", "k2"}
    finally:
        db.dispose()


def test_c9_keys_rotate_interrupted_tells_how_to_resume(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    kr.create_keyring_file(env.key_file)
    migrate.upgrade_head(env.url)

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(keys_cli.rotation, "rotate", interrupted)
    result = env.runner.invoke(app, ["keys", "rotate"])
    assert result.exit_code == 130
    assert "已中断" in result.output and "haochaping keys rotate --resume" in result.output


def test_c9_keys_commands_without_key_file(env: Env) -> None:
    for args in (["keys", "status"], ["keys", "rotate"], ["keys", "rotate", "--resume"]):
        result = env.runner.invoke(app, args)
        assert result.exit_code == 1, result.output
        assert "key_file_missing" in result.output
        assert "haochaping keys init" in result.output
    assert not env.key_file.exists()


def test_c9_demo_creates_the_missing_key_file(env: Env) -> None:
    args = ["demo", "--cases", "20", "--days", "5", "--now", "2026-11-20T12:00:00+08:00"]
    result = env.runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "已创建个人信息加密密钥文件" in result.output and "演示数据已生成" in result.output
    assert stat.S_IMODE(env.key_file.stat().st_mode) == 0o600
    db = Database(env.url)
    try:
        raw = _raw(db)
        assert raw and {key_id_of(v) for v in raw} == {"k1"}
        with db.transaction() as s:
            case = s.scalars(select(Case).limit(1)).one()
            assert case.applicant_phone and len(case.applicant_phone) == 11
    finally:
        db.dispose()
    # A second demo (with --reset) keeps the key file it finds.
    before = env.key_file.read_bytes()
    reset = env.runner.invoke(app, [*args, "--reset"])
    assert reset.exit_code == 0, reset.output
    assert "已创建个人信息加密密钥文件" not in reset.output
    assert env.key_file.read_bytes() == before
