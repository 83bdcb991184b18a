"""``haochaping qr``: printable placards with each window's static QR code (ZZ, D2)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from haochaping.channels import placards, window_qr
from haochaping.cli.common import console, domain_errors, err_console, open_database
from haochaping.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)


@app.callback()
def qr() -> None:
    """窗口静态评价二维码。"""


@app.command("placards")
def make_placards(
    hall: Annotated[str, typer.Option("--hall", help="政务服务大厅编码")],
    out: Annotated[Path, typer.Option("--out", help="输出目录（不存在时创建）")],
    fmt: Annotated[str, typer.Option("--format", help="pdf 或 png")] = "pdf",
) -> None:
    """为大厅的每个窗口生成可打印的评价二维码牌（每个窗口一个文件）。"""
    database = open_database()
    try:
        with domain_errors():
            if fmt not in ("pdf", "png"):
                raise InvalidInput("placard_format_invalid", "输出格式只能是 pdf 或 png")
            with database.transaction() as session:
                total = len(window_qr.hall_windows(session=session, hall_code=hall))
                columns = (
                    SpinnerColumn(),
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                )
                with Progress(*columns, console=err_console) as bar:
                    task = bar.add_task("生成二维码牌", total=total)
                    made = placards.render_hall(
                        session=session,
                        hall_code=hall,
                        out_dir=out,
                        fmt="png" if fmt == "png" else "pdf",
                        progress=lambda _code: bar.advance(task),
                    )
    finally:
        database.dispose()
    table = Table(title=f"大厅 {escape(hall)} 的评价二维码牌（{len(made)} 个）")
    table.add_column("窗口")
    table.add_column("文件")
    table.add_column("二维码地址", overflow="fold")
    for placard in made:
        table.add_row(
            escape(f"{placard.window_name}（{placard.window_code}）"),
            escape(str(placard.path)),
            escape(placard.url),
        )
    console.print(table)
