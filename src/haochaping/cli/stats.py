"""``haochaping stats``: keep the statistics rollups current or rebuild them (issue 6)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from haochaping.cli.common import console, err_console, open_database
from haochaping.statistics import rollup
from haochaping.sweeper import fold_statistics

app = typer.Typer(no_args_is_help=True)


@app.command("rebuild")
def rebuild(
    batch: Annotated[int, typer.Option(min=100, max=200_000, help="每批读取的评价数")] = 20000,
) -> None:
    """从原始评价重新统计全部汇总表（撤销的评价不计入），期间到达的评价随后补计。"""
    db = open_database()
    columns = (
        TextColumn("重新统计"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=err_console) as bar:
            task = bar.add_task("rebuild", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            result = rollup.rebuild_database(db, batch=batch, progress=progress)
        folded = fold_statistics(db)
    finally:
        db.dispose()
    console.print(
        f"已重新统计 {result.evaluations} 条评价、{result.expired} 个未评价即结束的评价场次："
        f"月汇总 {result.month_rows} 行，日汇总 {result.day_rows} 行，标签 {result.label_rows} 行；"
        f"随后补计 {folded} 项"
    )


@app.command("fold")
def fold() -> None:
    """把尚未计入的评价、撤销和过期计入汇总表（服务运行时每次巡检都会自动执行）。"""
    db = open_database()
    try:
        with db.transaction() as session:
            waiting = rollup.pending_count(session)
        done = fold_statistics(db)
    finally:
        db.dispose()
    console.print(f"待计入 {waiting} 项，已计入 {done} 项")
