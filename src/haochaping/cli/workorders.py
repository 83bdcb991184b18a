"""``haochaping workorder``: list and show bad-review work orders, write their documents."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.markup import escape
from rich.table import Table

from haochaping.access.principal import Permission, Principal
from haochaping.access.scope import Scope
from haochaping.cli.audit import cli_actor
from haochaping.cli.common import console, domain_errors, open_database
from haochaping.clock import BEIJING
from haochaping.workorders import paperwork, service
from haochaping.workorders.procedure import State

app = typer.Typer(no_args_is_help=True)


def _operator() -> Principal:
    """The operator at the server's console reads everything, takes no step, and sees raters
    masked like every official (C9)."""
    return Principal(
        kind="user",
        id=0,
        name=cli_actor().split(":", 1)[1],
        permissions=frozenset({Permission.workorders_read}),
        scope=Scope.all(),
    )


def _when(value: datetime | None) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else "—"


def _left(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    hours = abs(seconds) // 3600
    text = f"{hours // 24}天{hours % 24}小时" if hours >= 24 else f"{hours}小时"
    return f"剩余{text}" if seconds >= 0 else f"[red]已超期{text}[/red]"


@app.command("list")
def list_(
    state: Annotated[list[State] | None, typer.Option("--state", help="状态，可重复")] = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="只看超期")] = False,
    region: Annotated[str | None, typer.Option("--region", help="地区代码（含下级）")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=500)] = 50,
) -> None:
    """列出差评工单（按受理时间倒序）。"""
    db = open_database()
    try:
        with domain_errors(), db.transaction() as session:
            page = service.list_orders(
                session=session,
                principal=_operator(),
                now=datetime.now(UTC),
                filters=service.OrderFilter(
                    states=[s.value for s in state or []],
                    region_code=region,
                    timing="overdue" if overdue else None,
                ),
                page_size=limit,
            )
    finally:
        db.dispose()
    table = Table(title=f"差评工单（共 {page.total} 件）")
    for column in ("工单编号", "来源", "办件编号", "责任机构", "状态", "当前时限", "受理时间"):
        table.add_column(column)
    for o in page.items:
        table.add_row(
            o.order_no,
            o.source_label,
            o.case_no or "—",
            escape(o.org_name),
            o.state_label + (" [red]（已督办）[/red]" if o.escalated_to else ""),
            _left(o.seconds_left),
            _when(o.received_at),
        )
    console.print(table)


@app.command("show")
def show(order_no: Annotated[str, typer.Argument(help="工单编号")]) -> None:
    """显示一件工单的时限与办理记录。"""
    db = open_database()
    try:
        with domain_errors(), db.transaction() as session:
            out = service.get_order(
                session=session, principal=_operator(), order_no=order_no, now=datetime.now(UTC)
            )
    finally:
        db.dispose()
    console.print(
        f"[bold]{out.order_no}[/bold]  {out.source_label}  {out.state_label}  "
        f"{escape(out.org_name)}  {escape(out.window_name or '')}  办件 {out.case_no or '—'}"
    )
    steps = Table(title="环节与时限")
    for column in ("环节", "开始", "时限", "完成", "超期"):
        steps.add_column(column)
    for s in out.steps:
        late = f"{s.overdue_seconds // 3600}小时" if s.overdue_seconds else ""
        steps.add_row(
            s.state_label,
            _when(s.started_at),
            _when(s.due_at) + ("（估算）" if s.estimated else ""),
            _when(s.completed_at) if s.completed_at else _left(s.seconds_left),
            late,
        )
    console.print(steps)
    timeline = Table(title="办理记录")
    for column in ("时间", "办理人", "身份", "事项", "说明"):
        timeline.add_column(column)
    for e in out.timeline:
        timeline.add_row(
            _when(e.at), escape(e.actor), e.party_label, e.action_label, escape(e.note or "")
        )
    console.print(timeline)


@app.command("doc")
def doc(
    order_no: Annotated[str, typer.Argument(help="工单编号")],
    kind: Annotated[
        str,
        typer.Option("--kind", help="transfer 转办登记表（附件4）或 report 调查整改报告（附件5）"),
    ] = "transfer",
    out: Annotated[
        Path | None, typer.Option("--out", help="输出文件（默认当前目录下的标准文件名）")
    ] = None,
) -> None:
    """生成工单的 Word 文书：差评办件转办登记表或调查整改报告（RA 附件4、附件5）。"""
    if kind not in ("transfer", "report"):
        raise typer.BadParameter("只能是 transfer 或 report", param_hint="--kind")
    which: Literal["transfer", "report"] = "transfer" if kind == "transfer" else "report"
    db = open_database()
    try:
        with domain_errors(), db.transaction() as session:
            filename, content = paperwork.build(
                session=session, principal=_operator(), order_no=order_no, kind=which
            )
    finally:
        db.dispose()
    target = out or Path(filename)
    target.write_bytes(content)
    console.print(
        f"[green]已生成[/green] {escape(str(target))}（{len(content)} 字节）", soft_wrap=True
    )
