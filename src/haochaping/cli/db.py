"""``haochaping db``: migrations."""

from __future__ import annotations

import typer

from haochaping import migrate
from haochaping.cli.common import console
from haochaping.config import get_settings

app = typer.Typer(no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """升级数据库结构到最新版本（Alembic 迁移）。"""
    url = get_settings().database_url
    migrate.upgrade_head(url)
    console.print("[green]数据库结构已是最新版本[/green]")


@app.command("check")
def check() -> None:
    """检查模型与迁移脚本是否一致。"""
    migrate.check(get_settings().database_url)
    console.print("[green]模型与迁移一致[/green]")
