"""``haochaping catalog import``: a summary on success, every row error and exit 1 otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from haochaping.cli.catalog import app
from haochaping.config import get_settings
from haochaping.db import Database
from haochaping.models import Base
from tests.catalog.catalog_helpers import EXAMPLE, table_counts, write_csv


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    """A fresh SQLite file that the command opens through ``HCP_DATABASE_URL``."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    db = Database(url)
    Base.metadata.create_all(db.engine)
    monkeypatch.setenv("HCP_DATABASE_URL", url)
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield db
    get_settings.cache_clear()
    db.dispose()


def _counts(db: Database) -> dict[str, int]:
    with Session(db.engine) as session:
        return table_counts(session)


def test_import_prints_a_summary_and_commits(cli_db: Database) -> None:
    result = CliRunner().invoke(app, ["import", str(EXAMPLE)])

    assert result.exit_code == 0, result.output
    assert "目录导入完成" in result.output and "共 29 行" in result.output
    assert "行政区划" in result.output and "人员" in result.output
    assert _counts(cli_db)["regions"] == 5
    assert _counts(cli_db)["staff"] == 5

    again = CliRunner().invoke(app, ["import", str(EXAMPLE)])
    assert again.exit_code == 0, again.output
    assert _counts(cli_db)["staff"] == 5


def test_a_bad_file_lists_every_error_exits_1_and_loads_nothing(
    cli_db: Database, tmp_path: Path
) -> None:
    rows = [
        {"type": "region", "code": "450000", "name": "广西壮族自治区", "profile": "guangxi"},
        {"type": "region", "code": "4502", "name": "柳州市", "parent": "450000"},
        {"type": "line", "code": "GA", "name": "公安"},
        {"type": "org", "code": "O1", "name": "融安县公安局", "region": "450224"},
        {
            "type": "item",
            "code": "I1",
            "name": "企业设立登记",
            "org": "O1",
            "kind": "承诺",
            "handling": "online",
        },
    ]
    path = write_csv(tmp_path / "bad.csv", rows)

    result = CliRunner().invoke(app, ["import", str(path)])

    assert result.exit_code == 1
    assert "目录文件有 3 处错误" in result.output
    assert "4502" in result.output and "6 位" in result.output
    assert "行政区划“450224”不存在" in result.output
    assert "承诺件的承诺时限必须大于 0 天" in result.output
    assert "未导入任何数据" in result.output
    assert "Traceback" not in result.output
    assert set(_counts(cli_db).values()) == {0}


def test_an_unsupported_file_is_refused_in_chinese(cli_db: Database, tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    path.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(app, ["import", str(path)])
    assert result.exit_code == 1
    assert "catalog_file_unsupported" in result.output and ".xlsx" in result.output
