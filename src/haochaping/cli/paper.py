"""``haochaping import paper FILE``: paper evaluation forms typed into a spreadsheet (ZZ, C8)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from haochaping.access.scope import Scope
from haochaping.channels import paper
from haochaping.cli.common import (
    console,
    domain_errors,
    err_console,
    open_database,
    parse_now,
    progress_bar,
)

app = typer.Typer(no_args_is_help=True)


@app.callback()
def import_() -> None:
    """导入数据。"""


@app.command("paper")
def import_paper(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="纸质评价表录入文件（.csv 或 .xlsx）：case_no、stage、level、labels、text、"
            "filled_on，格式见 docs/counter.md",
        ),
    ],
    now: Annotated[
        str | None, typer.Option(help="以该时间作为录入时间（ISO 时间，默认当前时间）")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="把有误的行另存为 CSV 错误报告（行号、办件编号、错误代码、原因）"),
    ] = None,
) -> None:
    """逐行校验并导入纸质评价表：正确的行全部保存，有误的行逐行列出行号和原因。"""
    at = parse_now(now)
    database = open_database()
    try:
        with domain_errors():
            rows = paper.read_file(file)
            with progress_bar() as bar:
                task = bar.add_task("校验并导入", total=len(rows))
                with database.transaction() as session:
                    result = paper.import_rows(
                        session=session,
                        rows=rows,
                        now=at,
                        scope=Scope.all(),
                        entered_by="cli:import",
                        progress=lambda: bar.advance(task),
                    )
    finally:
        database.dispose()
    console.print(
        f"纸质评价表导入：{escape(file.name)}，共 {len(rows)} 行，"
        f"[green]已保存 {len(result.stored)} 行[/green]，"
        f"{'[red]' if result.errors else ''}有误 {len(result.errors)} 行"
        f"{'[/red]' if result.errors else ''}"
    )
    if report is not None:
        _write_report(report, result)
        console.print(f"错误报告：{escape(str(report))}")
    if result.errors:
        table = Table(title="[red]以下各行未导入[/red]")
        table.add_column("行", justify="right")
        table.add_column("办件编号")
        table.add_column("错误代码")
        table.add_column("原因", overflow="fold")
        for error in result.errors:
            table.add_row(str(error.row), escape(error.case_no), error.code, escape(error.message))
        err_console.print(table)
        err_console.print("其余各行已保存；改正以上各行后，可只导入这些行。")
        raise typer.Exit(1)


def _write_report(path: Path, result: paper.ImportResult) -> None:
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["row", "case_no", "code", "message"])
            for error in result.errors:
                writer.writerow([error.row, error.case_no, error.code, error.message])
    except OSError as exc:
        err_console.print(f"[red]无法写入错误报告[/red] {escape(str(path))}：{escape(str(exc))}")
        raise typer.Exit(1) from exc
