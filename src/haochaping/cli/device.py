"""`haochaping device add|list|revoke`: counter rating devices (评价器) and their pairing."""

from __future__ import annotations

import getpass
from datetime import datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from haochaping.channels import device_service as service
from haochaping.cli.common import console, domain_errors, open_database
from haochaping.clock import BEIJING, utcnow

app = typer.Typer(no_args_is_help=True)

STATES = {
    "awaiting_pairing": "待配对",
    "pairing_expired": "配对码已过期",
    "paired": "已配对",
    "revoked": "已停用",
}


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@app.command("add")
def add(
    window: Annotated[str, typer.Option("--window", help="窗口编码")],
    name: Annotated[str, typer.Option("--name", help="设备名称（如“3号窗口评价器”）")] = "",
    valid_hours: Annotated[
        float, typer.Option("--valid-hours", min=0.1, max=720, help="配对码有效小时数")
    ] = 24.0,
) -> None:
    """为窗口登记一台评价器，并生成一次性配对码（只显示这一次，只保存其摘要）。"""
    db = open_database()
    now = utcnow()
    with domain_errors(), db.transaction() as session:
        device, code = service.add_device(
            session=session,
            window_code=window,
            name=name,
            now=now,
            actor=_actor(),
            valid=timedelta(hours=valid_hours),
        )
        device_id = device.id
        until = device.pairing_expires_at
    console.print(f"评价器编号：[bold]{device_id}[/bold]（窗口 {window}）")
    console.print(f"配对码（仅显示这一次）：[bold]{service.format_code(code)}[/bold]")
    if until is not None:
        console.print(
            f"有效至 {until.astimezone(BEIJING):%Y-%m-%d %H:%M}（北京时间），只能使用一次。"
        )
    console.print("在评价器上打开 /device 页面并输入配对码。")


@app.command("list")
def list_() -> None:
    """列出评价器、所属窗口和状态（不显示凭据）。"""
    db = open_database()
    now = utcnow()
    with db.transaction() as session:
        rows = service.list_devices(session=session, now=now)
    table = Table("编号", "名称", "窗口", "状态", "配对时间", "最近在线")

    def when(value: datetime | None) -> str:
        return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else "—"

    for row in rows:
        table.add_row(
            str(row.id),
            row.name or "—",
            row.window_code,
            STATES.get(row.state, row.state),
            when(row.paired_at),
            when(row.last_seen_at),
        )
    console.print(table)


@app.command("revoke")
def revoke(device_id: Annotated[int, typer.Argument(help="评价器编号", min=1)]) -> None:
    """立即停用一台评价器：它的下一次请求即被拒绝，需重新登记配对。"""
    db = open_database()
    with domain_errors(), db.transaction() as session:
        service.revoke_device(session=session, device_id=device_id, now=utcnow(), actor=_actor())
    console.print(f"已停用评价器 {device_id}。")
