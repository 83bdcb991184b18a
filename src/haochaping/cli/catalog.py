"""``haochaping catalog``: load the catalogue (A2-A5) from a CSV or XLSX file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from haochaping.catalog.importer import TYPE_LABELS, ImportReport, import_catalogue
from haochaping.cli.common import (
    console,
    domain_errors,
    err_console,
    open_database,
    progress_bar,
)
from haochaping.db import Database
from haochaping.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)


@app.callback()
def catalog() -> None:
    """事项、机构、窗口等目录数据。"""


@app.command("import")
def import_file(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            readable=True,
            help="目录文件（.csv 或 .xlsx），格式见 docs/catalog.md",
        ),
    ],
) -> None:
    """校验并导入目录文件；只要有一处错误，就列出全部错误，不写入任何数据。"""
    database = open_database()
    try:
        with domain_errors():
            try:
                report = _load(database, file)
            except InvalidInput as exc:
                if exc.code != "catalog_file_invalid":
                    raise
                _print_errors(exc)
                raise typer.Exit(1) from exc
    finally:
        database.dispose()
    _print_report(report, file)


def _load(database: Database, file: Path) -> ImportReport:
    with progress_bar() as bar:
        checking = bar.add_task("读取并校验", total=None)
        writing = bar.add_task("写入数据库", total=None, visible=False)

        def on_progress(done: int, total: int) -> None:
            # The importer reports validation as the first half of ``total``, loading as the second.
            half = total // 2
            if done <= half:
                bar.update(checking, completed=done, total=half)
            else:
                bar.update(checking, completed=half, total=half)
                bar.update(writing, completed=done - half, total=half, visible=True)

        with database.transaction() as session:
            return import_catalogue(session=session, path=file, progress=on_progress)


def _print_report(report: ImportReport, file: Path) -> None:
    console.print(f"[green]目录导入完成[/green]：{file.name}，共 {report.rows} 行")
    table = Table()
    table.add_column("类型")
    for heading in ("新增", "更新", "未变"):
        table.add_column(heading, justify="right")
    for kind, counts in report.counts.items():
        table.add_row(
            TYPE_LABELS[kind], str(counts.inserted), str(counts.updated), str(counts.unchanged)
        )
    unchanged = sum(c.unchanged for c in report.counts.values())
    table.add_row("合计", str(report.inserted), str(report.updated), str(unchanged), style="bold")
    console.print(table)


def _print_errors(exc: InvalidInput) -> None:
    details: list[dict[str, Any]] = list(exc.details or [])
    with_sheet = any(d.get("sheet") for d in details)
    table = Table(title=f"[red]{exc.message}[/red]", show_lines=False)
    if with_sheet:
        table.add_column("工作表")
    table.add_column("行", justify="right")
    table.add_column("列")
    table.add_column("原因", overflow="fold")
    for d in details:
        cells = [str(d["row"]), d.get("column") or "", d["message"]]
        table.add_row(*([d.get("sheet") or ""] if with_sheet else []), *cells)
    err_console.print(table)
    err_console.print("[red]未导入任何数据。[/red]改正以上错误后重新导入。")
