"""``haochaping calendar``: import a published year's schedule, show a year, check a day (P2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from haochaping.audit import service as audit
from haochaping.audit.actions import AuditAction
from haochaping.calendar import service
from haochaping.cases import service as cases
from haochaping.cli.audit import cli_actor
from haochaping.cli.common import console, domain_errors, err_console, open_database
from haochaping.clock import BEIJING, utcnow
from haochaping.errors import InvalidInput

app = typer.Typer(no_args_is_help=True)

_WEEKDAYS = "一二三四五六日"
_SOURCES = {
    service.DaySource.override: "已导入的日历",
    service.DaySource.builtin: "内置官方日历（chinese-calendar）",
    service.DaySource.weekday: "周一至周五规则",
}


def _weekday(day: date) -> str:
    return f"星期{_WEEKDAYS[day.weekday()]}"


def _parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise typer.BadParameter(f"日期“{text}”格式不对，应为 YYYY-MM-DD") from exc


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV（date,type,name）或 YAML 日历文件")],
) -> None:
    """导入新公布年度的节假日与调休安排（全部校验通过才写入）。"""
    db = open_database()
    try:
        with domain_errors():
            try:
                with db.transaction() as session:
                    now = utcnow()
                    result = service.import_file(session=session, path=file, now=now)
                    recomputed = cases.recompute_estimated_windows(session=session)
                    audit.record(
                        session,
                        now=now,
                        actor=cli_actor(),
                        action=AuditAction.calendar_imported,
                        target=",".join(str(y) for y in result.years),
                        details={
                            "file": file.name,
                            "rows": result.holidays + result.workdays,
                            "inserted": result.inserted,
                            "updated": result.updated,
                        },
                    )
            except InvalidInput as exc:
                if exc.code != service.FILE_INVALID or not isinstance(exc.details, list):
                    raise
                _print_file_errors(exc)
                raise typer.Exit(1) from exc
    finally:
        db.dispose()
    years = "、".join(str(y) for y in result.years)
    console.print(f"[green]已导入[/green] {years} 年工作日历（来源：{escape(result.source)}）")
    console.print(f"节假日 {result.holidays} 天，调休上班 {result.workdays} 天")
    console.print(
        f"新增 {result.inserted} 条，更新 {result.updated} 条，未变 {result.unchanged} 条"
    )
    if recomputed:
        console.print(f"已按新日历重新计算 {recomputed} 个评价场次的评价期限（原为按周末估算）")


def _print_file_errors(exc: InvalidInput) -> None:
    err_console.print(f"[red]错误[/red] {escape(f'[{exc.code}]')} {escape(exc.message)}")
    table = Table("行", "问题")
    for item in exc.details:
        table.add_row(str(item["row"]) if item["row"] else "-", escape(str(item["message"])))
    err_console.print(table)


@app.command("show")
def show(year: Annotated[int, typer.Argument(help="年份，例如 2027")]) -> None:
    """列出某年的节假日与调休上班日，并说明该年是否有官方安排。"""
    db = open_database()
    try:
        with db.transaction() as session:
            schedule = service.year_schedule(session=session, year=year)
    finally:
        db.dispose()
    if schedule.imported_source is not None and schedule.imported_at is not None:
        when = schedule.imported_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
        source = escape(schedule.imported_source)
        status = f"[green]官方安排[/green]：已导入（{source}，{when}）"
    elif schedule.builtin:
        status = "[green]官方安排[/green]：内置（chinese-calendar）"
    else:
        status = "[yellow]无官方安排[/yellow]：按周一至周五估算，期限将标记为“估算”"
    console.print(f"{year} 年工作日历 — {status}")
    if not schedule.days:
        console.print("（没有节假日或调休记录）")
        return
    table = Table("日期", "星期", "类型", "名称", "来源")
    for day in schedule.days:
        kind = "[cyan]调休上班[/cyan]" if day.is_working else "[magenta]放假[/magenta]"
        table.add_row(
            day.day.isoformat(), _weekday(day.day), kind, escape(day.name), escape(day.source)
        )
    console.print(table)


@app.command("check")
def check(day_text: Annotated[str, typer.Argument(metavar="DATE", help="YYYY-MM-DD")]) -> None:
    """判断某天是否为工作日。"""
    day = _parse_day(day_text)
    db = open_database()
    try:
        with db.transaction() as session:
            info = service.WorkCalendar.load(session).describe(day)
    finally:
        db.dispose()
    verdict = "[green]工作日[/green]" if info.is_working else "[magenta]休息日[/magenta]"
    name = f"（{escape(info.name)}）" if info.name else ""
    console.print(f"{day.isoformat()}（{_weekday(day)}）是{verdict}{name}")
    note = "，该年无官方安排，为估算" if info.estimated else ""
    console.print(f"依据：{_SOURCES[info.source]}{note}")
