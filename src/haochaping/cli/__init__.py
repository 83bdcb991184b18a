"""The ``haochaping`` command: wiring only; each group lives in its own module."""

from __future__ import annotations

import typer

from haochaping.cli import calendar, catalog, db, demo, policy, server

app = typer.Typer(help="政务服务“好差评”系统 haochaping", no_args_is_help=True)
app.add_typer(db.app, name="db", help="数据库迁移")
app.add_typer(policy.app, name="policy", help="评价政策配置（policy profiles）")
app.add_typer(calendar.app, name="calendar", help="工作日历（节假日与调休）")
app.add_typer(catalog.app, name="catalog", help="事项、机构、窗口等目录数据")
app.command("serve")(server.serve)
app.command("tick")(server.tick)
app.command("demo")(demo.demo)


def main() -> None:
    app()
