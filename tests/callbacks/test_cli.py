"""D2 (ZZ 监督查评) at the server's console: ``haochaping callback draw`` and ``summary``."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from haochaping.cli import app
from haochaping.config import get_settings
from haochaping.db import Database
from tests.callbacks.conftest import rated
from tests.factories import T0, make_catalog


@pytest.fixture
def cli_db(committed_db: Database, monkeypatch: pytest.MonkeyPatch) -> Iterator[Database]:
    with committed_db.transaction() as session:
        make_catalog(session)
        for n in range(3):
            rated(session, f"CLI-CB-{n}")
        rated(session, "CLI-CB-HB", item="I-HB", staff="SH")
    monkeypatch.setenv(
        "HCP_DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False)
    )
    monkeypatch.setenv("COLUMNS", "200")
    get_settings.cache_clear()
    yield committed_db
    get_settings.cache_clear()


def test_D2_cli_draws_a_sample_and_summarises(cli_db: Database) -> None:
    period = ["--from", T0.date().isoformat(), "--to", T0.date().isoformat()]
    result = CliRunner().invoke(
        app, ["callback", "draw", "--region", "450224", "--size", "2", *period]
    )
    assert result.exit_code == 0, result.output
    found = re.search(r"已抽取第 (\d+) 号抽查样本：符合条件的评价 3 条，抽取 2 条", result.output)
    assert found, result.output
    result = CliRunner().invoke(app, ["callback", "summary", "--region", "450224"])
    assert result.exit_code == 0, result.output
    assert "按机构" in result.output and "融安县公安局" in result.output
    assert "合计" in result.output


def test_D2_cli_errors_are_shown_in_chinese(cli_db: Database) -> None:
    result = CliRunner().invoke(app, ["callback", "draw", "--region", "450224", "--size", "0"])
    assert result.exit_code == 1
    assert (
        "callback_size_invalid" in result.output and "抽取数量应在 1 到 500 之间" in result.output
    )
    result = CliRunner().invoke(app, ["callback", "summary", "--region", "999999"])
    assert result.exit_code == 1 and "region_not_found" in result.output
    result = CliRunner().invoke(
        app, ["callback", "draw", "--region", "450224", "--size", "2", "--from", "11/01"]
    )
    assert result.exit_code == 2
