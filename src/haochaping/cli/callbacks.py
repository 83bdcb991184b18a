"""``haochaping callback``: draw a 监督查评 sample (D2, ZZ) and show what callbacks found."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from haochaping.access.scope import Scope
from haochaping.callbacks import findings, sampling
from haochaping.callbacks.schemas import SIZE_MAX, Tally
from haochaping.cli.audit import cli_actor
from haochaping.cli.common import console, domain_errors, open_database

app = typer.Typer(no_args_is_help=True)


def _day(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter("日期格式应为 2026-11-01", param_hint=option) from exc


@app.command("draw")
def draw(
    region: Annotated[str, typer.Option("--region", help="行政区划代码（含下级）")],
    size: Annotated[int, typer.Option("--size", help=f"抽取数量（1–{SIZE_MAX}）")],
    date_from: Annotated[
        str | None, typer.Option("--from", help="评价日期起（含），默认截止日期前 30 天")
    ] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="评价日期止（含），默认今天")] = None,
    org: Annotated[str | None, typer.Option("--org", help="只抽某机构（机构代码）")] = None,
    staff: Annotated[str | None, typer.Option("--staff", help="只抽某工作人员（编号）")] = None,
    channel: Annotated[int | None, typer.Option("--channel", min=1, max=7, help="评价渠道")] = None,
) -> None:
    """随机抽取近期评价进行回访（监督查评），显示样本编号和符合条件的评价数。"""
    params = sampling.DrawParams(
        region_code=region,
        size=size,
        date_from=_day(date_from, "--from"),
        date_to=_day(date_to, "--to"),
        org_code=org,
        staff_code=staff,
        channel=channel,
    )
    db = open_database()
    try:
        with domain_errors(), db.transaction() as session:
            # The operator at the server's console acts for every region, as in `workorder`.
            sample = sampling.draw_sample(
                session=session,
                scope=Scope.all(),
                actor=cli_actor(),
                now=datetime.now(UTC),
                params=params,
            )
    finally:
        db.dispose()
    console.print(
        f"已抽取第 {sample.id} 号抽查样本：符合条件的评价 {sample.eligible} 条，"
        f"抽取 {sample.size} 条（随机种子 {sample.seed}）"
    )


def _rate(tally: Tally) -> str:
    return f"{tally.denial_rate:.1%}" if tally.denial_rate is not None else "—"


def _table(title: str, tallies: list[Tally]) -> Table:
    table = Table(title=title)
    for column in ("名称", "抽取", "确认属实", "否认评价", "联系未果", "待回访", "否认率"):
        table.add_column(column, justify="left" if column == "名称" else "right")
    for t in tallies:
        table.add_row(
            escape(t.name),
            str(t.drawn),
            str(t.confirmed),
            str(t.denied),
            str(t.unreachable),
            str(t.pending),
            _rate(t),
        )
    return table


@app.command("summary")
def summary(
    region: Annotated[str, typer.Option("--region", help="行政区划代码（含下级）")],
    date_from: Annotated[str | None, typer.Option("--from", help="评价日期起（含）")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="评价日期止（含）")] = None,
) -> None:
    """回访结果汇总：按机构、工作人员、评价渠道统计确认、否认、联系未果及否认率。"""
    filters = findings.FindingFilter(
        region_code=region, date_from=_day(date_from, "--from"), date_to=_day(date_to, "--to")
    )
    db = open_database()
    try:
        with domain_errors(), db.transaction() as session:
            found = findings.summary(session=session, scope=Scope.all(), filters=filters)
    finally:
        db.dispose()
    console.print(_table("按机构", [*found.by_org, found.total]))
    console.print(_table("按工作人员", found.by_staff))
    console.print(_table("按评价渠道", found.by_channel))
