"""`haochaping client add|rotate|revoke|list`: business systems' credentials."""

from __future__ import annotations

import getpass
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from haochaping.cli.common import console, domain_errors, open_database
from haochaping.clients import service
from haochaping.clock import BEIJING, utcnow

app = typer.Typer(no_args_is_help=True)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _show_key(issued: service.IssuedKey) -> None:
    console.print(f"业务系统编码（X-HCP-Client）：[bold]{issued.client}[/bold]")
    console.print(f"密钥编号（X-HCP-Key-Id）：[bold]{issued.kid}[/bold]")
    console.print(f"密钥（仅显示这一次，请妥善交付业务系统）：[bold]{issued.secret}[/bold]")
    console.print("签名方法见 docs/signing.md。")


@app.command("add")
def add(
    code: Annotated[str, typer.Argument(help="业务系统编码")],
    name: Annotated[str, typer.Option("--name", help="业务系统名称")] = "",
    org: Annotated[list[str] | None, typer.Option("--org", help="服务的机构编码，可重复")] = None,
    region: Annotated[
        list[str] | None, typer.Option("--region", help="服务的行政区划（含下级），可重复")
    ] = None,
) -> None:
    """登记一个业务系统，限定其服务的机构或地区，并生成第一把签名密钥。"""
    db = open_database()
    with domain_errors(), db.transaction() as session:
        issued = service.create_client(
            session,
            code=code,
            name=name,
            org_codes=org or [],
            region_codes=region or [],
            now=utcnow(),
            actor=_actor(),
        )
    _show_key(issued)


@app.command("rotate")
def rotate(
    code: Annotated[str, typer.Argument(help="业务系统编码")],
    overlap_hours: Annotated[
        float, typer.Option("--overlap-hours", min=0, help="旧密钥继续有效的小时数")
    ] = 24.0,
) -> None:
    """生成新密钥；旧密钥在过渡期内继续有效，业务系统可从容切换，不停机。"""
    db = open_database()
    with domain_errors(), db.transaction() as session:
        issued = service.rotate_key(
            session,
            code=code,
            overlap=timedelta(hours=overlap_hours),
            now=utcnow(),
            actor=_actor(),
        )
    _show_key(issued)
    if issued.valid_until_of_previous is not None:
        until = issued.valid_until_of_previous.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        console.print(f"旧密钥有效至 {until}（北京时间）。")


@app.command("revoke")
def revoke(
    code: Annotated[str, typer.Argument(help="业务系统编码")],
    key: Annotated[str | None, typer.Option("--key", help="只撤销这一把密钥")] = None,
) -> None:
    """立即撤销业务系统的全部接入凭据，或其中一把密钥。"""
    db = open_database()
    with domain_errors(), db.transaction() as session:
        service.revoke(session, code=code, kid=key, now=utcnow(), actor=_actor())
    console.print(f"已撤销：{code}" + (f" 的密钥 {key}" if key else " 的全部密钥"))


@app.command("list")
def list_() -> None:
    """列出业务系统、服务范围和密钥状态（不显示密钥内容）。"""
    db = open_database()
    with db.transaction() as session:
        views = service.list_clients(session)
    table = Table("编码", "名称", "状态", "服务范围", "密钥")
    now = utcnow()
    for v in views:
        keys = []
        for kid, until, revoked in v.keys:
            if revoked:
                state = "已撤销"
            elif until is not None and until <= now:
                state = "已过期"
            elif until is not None:
                state = f"有效至 {until.astimezone(BEIJING):%Y-%m-%d %H:%M}"
            else:
                state = "有效"
            keys.append(f"{kid}（{state}）")
        table.add_row(
            v.code, v.name, "已撤销" if v.revoked else "正常", "；".join(v.scopes), "\n".join(keys)
        )
    console.print(table)
