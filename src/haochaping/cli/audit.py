"""``haochaping audit``: verify the hash chain of the audit log, list recent entries."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from haochaping.audit import service
from haochaping.audit.actions import action_label
from haochaping.cli.common import console, domain_errors, err_console, open_database
from haochaping.clock import BEIJING
from haochaping.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)


def cli_actor() -> str:
    """The audit actor of a CLI command: ``cli:<operating-system user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (some containers)
        return "cli:unknown"


def _anchor(value: str | None) -> service.Anchor | None:
    if value is None:
        return None
    try:
        return service.parse_anchor(value)
    except InvalidInput as exc:
        raise typer.BadParameter(exc.message) from exc


@app.command("verify")
def verify(
    anchor: Annotated[
        str | None,
        typer.Option(
            "--anchor",
            metavar="SEQ:HASH",
            help="此前记下的末条序号与哈希；检查该条仍在且未变（可发现末尾被删除或整链重算）",
        ),
    ] = None,
) -> None:
    """逐条重算审计日志的 SM3 哈希链，发现被修改或删除的记录并指出断在何处。"""
    expected = _anchor(anchor)
    db = open_database()
    try:
        with domain_errors(), db.transaction() as session:
            result = service.verify(session, anchor=expected)
    finally:
        db.dispose()
    if not result.ok:
        err_console.print(f"[red]审计日志校验失败[/red]：{escape(result.reason or '')}")
        if result.checked:
            err_console.print(f"此前的 {result.checked} 条记录完好（至第 {result.last_seq} 条）")
        raise typer.Exit(1)
    if result.checked == 0:
        console.print("[green]审计日志完整[/green]，共 0 条（尚无记录）")
        return
    console.print(
        f"[green]审计日志完整[/green]，共 {result.checked} 条，"
        f"末条 #{result.last_seq} {result.last_hash}",
        soft_wrap=True,
    )
    if expected is not None:
        console.print(f"锚点 #{expected.seq} 相符")
    console.print(
        f"请在数据库之外记下锚点，日后用 --anchor {result.anchor} 核对（可发现末尾记录被删除）",
        soft_wrap=True,
    )


@app.command("list")
def list_(
    action: Annotated[
        str | None, typer.Option("--action", help="只看某类操作，如 login、pii_unmasked")
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="只看某个操作者，如 user:alice、cli:root")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=service.PAGE_SIZE_MAX, help="显示最新的几条")
    ] = 50,
) -> None:
    """列出最新的审计记录（时间为北京时间）。"""
    db = open_database()
    try:
        with domain_errors(), db.transaction() as session:
            total, rows = service.list_entries(
                session, action=action, actor=actor, page=1, page_size=limit
            )
    finally:
        db.dispose()
    if not rows:
        console.print("没有符合条件的审计记录")
        return
    table = Table("序号", "时间", "操作者", "来源 IP", "操作", "对象")
    table.add_column("详情", overflow="fold")
    for entry in rows:
        when = entry.at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        details = "" if entry.details == "{}" else entry.details
        table.add_row(
            str(entry.seq),
            when,
            escape(entry.actor),
            escape(entry.actor_ip or "-"),
            escape(action_label(entry.action)),
            escape(entry.target),
            escape(details),
        )
    console.print(table)
    console.print(f"共 {total} 条，显示最新 {len(rows)} 条")
