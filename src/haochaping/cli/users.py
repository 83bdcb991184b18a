"""``haochaping user ...``: officials' accounts and their roles, from the shell."""

from __future__ import annotations

import getpass
import os
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from sqlalchemy.orm import Session

from haochaping.accounts import service as accounts
from haochaping.accounts.models import ROLE_LABELS, Role, User
from haochaping.cli.common import console, domain_errors, open_database
from haochaping.clock import utcnow

app = typer.Typer(no_args_is_help=True)

ROLE_HELP = (
    "角色及范围，格式 角色:范围，可重复。例如 supervisor:450224（政管办，行政区划代码）、"
    "org_manager:机构代码、window_staff:人员工号、auditor:450000、pii_viewer:450000、admin"
)


def cli_actor() -> str:
    """``cli:<os user>``: who ran the command, for the audit log."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = os.environ.get("USER") or str(os.getuid())
    return f"cli:{name}"


def _grant_text(session: Session, user: User) -> str:
    views = accounts.describe_grants(session, user.id)
    if not views:
        return "（无）"
    return "\n".join(f"{v.role_label} {v.spec}：{v.scope_name}" for v in views)


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(help="用户名（小写字母、数字、._-）")],
    name: Annotated[str, typer.Option("--name", help="姓名（显示名）")],
    role: Annotated[list[str] | None, typer.Option("--role", help=ROLE_HELP)] = None,
) -> None:
    """创建工作人员账号，生成初始密码（只显示一次，首次登录须修改）。"""
    now, actor = utcnow(), cli_actor()
    db = open_database()
    try:
        with domain_errors(), db.transaction() as session:
            user, initial = accounts.create_user(
                session, username=username, display_name=name, now=now, actor=actor
            )
            for spec in role or []:
                granted, scope = accounts.parse_grant_spec(spec)
                accounts.grant_role(
                    session, user=user, role=granted, scope_code=scope, now=now, actor=actor
                )
            roles = _grant_text(session, user)
    finally:
        db.dispose()
    console.print(
        f"[green]已创建账号[/green] {escape(user.username)}（{escape(user.display_name)}）"
    )
    console.print(f"角色：{escape(roles)}")
    console.print(f"初始密码：[bold]{escape(initial)}[/bold]", highlight=False)
    console.print(
        "[yellow]初始密码只显示这一次，请当面或通过安全渠道交给本人；首次登录须修改。[/yellow]"
    )


@app.command("list")
def list_users() -> None:
    """列出全部账号及其角色。"""
    now = utcnow()
    db = open_database()
    try:
        with db.transaction() as session:
            table = Table(title="工作人员账号", show_header=True, show_lines=True)
            for column in ("用户名", "姓名", "角色及范围", "状态", "锁定"):
                table.add_column(column)
            users = accounts.list_users(session)
            for user in users:
                state = "已停用" if user.disabled else "正常"
                if not user.disabled and user.must_change_password:
                    state = "正常（待修改初始密码）"
                locked = "锁定中" if accounts.is_locked(user, now) else "否"
                table.add_row(
                    escape(user.username),
                    escape(user.display_name),
                    escape(_grant_text(session, user)),
                    state,
                    locked,
                )
    finally:
        db.dispose()
    if not users:
        console.print("尚无账号。使用 [bold]haochaping user add[/bold] 创建。")
        return
    console.print(table)


@app.command("disable")
def disable(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """停用账号（立即结束其全部登录会话）。"""
    db = open_database()
    try:
        with domain_errors(), db.transaction() as session:
            user = accounts.get_user(session, username)
            already = user.disabled
            accounts.disable_user(session, user=user, now=utcnow(), actor=cli_actor())
    finally:
        db.dispose()
    if already:
        console.print(f"账号 {escape(username)} 已是停用状态。")
    else:
        console.print(f"[green]已停用账号[/green] {escape(username)}")


@app.command("roles")
def roles(
    username: Annotated[str, typer.Argument(help="用户名")],
    grant: Annotated[
        list[str] | None, typer.Option("--grant", help="授予角色，" + ROLE_HELP)
    ] = None,
    revoke: Annotated[list[str] | None, typer.Option("--revoke", help="撤销角色，格式同上")] = None,
) -> None:
    """查看账号的角色；加 --grant / --revoke 授予或撤销。"""
    now, actor = utcnow(), cli_actor()
    done: list[str] = []
    db = open_database()
    try:
        with domain_errors(), db.transaction() as session:
            user = accounts.get_user(session, username)
            for spec in revoke or []:
                role, scope = accounts.parse_grant_spec(spec)
                accounts.revoke_role(
                    session, user=user, role=role, scope_code=scope, now=now, actor=actor
                )
                done.append(f"已撤销 {ROLE_LABELS[role]} {spec}")
            for spec in grant or []:
                role, scope = accounts.parse_grant_spec(spec)
                accounts.grant_role(
                    session, user=user, role=role, scope_code=scope, now=now, actor=actor
                )
                done.append(f"已授予 {ROLE_LABELS[role]} {spec}")
            views = accounts.describe_grants(session, user.id)
    finally:
        db.dispose()
    for line in done:
        console.print(f"[green]{escape(line)}[/green]")
    table = Table(title=f"{escape(username)} 的角色", show_header=True)
    table.add_column("角色")
    table.add_column("代码")
    table.add_column("范围")
    for view in views:
        table.add_row(escape(view.role_label), escape(view.spec), escape(view.scope_name))
    if views:
        console.print(table)
    else:
        console.print(f"账号 {escape(username)} 暂无角色。")
    console.print(
        "可用角色：" + "、".join(f"{r.value}（{ROLE_LABELS[r]}）" for r in Role), highlight=False
    )
