"""``haochaping report``: periodic reports; ``report bulletin`` writes a region's 通报 (G2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from haochaping.access.scope import Scope
from haochaping.cli.common import console, domain_errors, err_console, open_database
from haochaping.statistics.bulletin import build_bulletin, bulletin_filename
from haochaping.statistics.periods import parse_period
from haochaping.sweeper import fold_statistics

app = typer.Typer(no_args_is_help=True)


@app.callback()
def report() -> None:
    """统计报表与“好差评”情况通报。"""


@app.command("bulletin")
def bulletin(
    region: Annotated[str, typer.Option("--region", help="地区代码，如 450000")],
    period: Annotated[
        str, typer.Option("--period", help="统计周期：2026-10（月）、2026-Q4（季度）、2026（年）")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="输出目录（默认当前目录）", file_okay=False)
    ] = Path("."),
    issuer: Annotated[
        str | None, typer.Option("--issuer", help="落款单位，如 ××市政务服务监督管理办公室")
    ] = None,
) -> None:
    """生成地区“好差评”情况通报：Excel 统计表（各维度、排名、重点关注、超期工单）和 Word 通报。"""
    with domain_errors():
        parsed = parse_period(period)
    code = region.strip()
    if not code:
        err_console.print("[red]错误[/red] 请指定地区代码（--region）")
        raise typer.Exit(1)
    db = open_database()
    try:
        with console.status("正在汇总统计数据……"):
            folded = fold_statistics(db)
        with console.status("正在生成通报……"), domain_errors(), db.transaction() as session:
            xlsx, docx = build_bulletin(session, Scope.all(), code, parsed, issuer=issuer)
    finally:
        db.dispose()
    try:
        out.mkdir(parents=True, exist_ok=True)
        paths = []
        for content, extension in ((xlsx, "xlsx"), (docx, "docx")):
            target = out / bulletin_filename(code, parsed, extension)
            target.write_bytes(content)
            paths.append((target, len(content)))
    except OSError as exc:
        err_console.print(
            f"[red]错误[/red] 无法写入输出目录 {escape(str(out))}：{escape(str(exc))}"
        )
        raise typer.Exit(1) from exc
    if folded:
        console.print(f"已汇总 {folded} 条待统计记录")
    for target, size in paths:
        # Never wrapped: the path stays whole for copying.
        console.print(f"[green]已生成[/green] {escape(str(target))}（{size} 字节）", soft_wrap=True)
