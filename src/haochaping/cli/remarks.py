"""``haochaping import remarks-mail PATH --region CODE``: e-mailed 综合点评 (D2, D3)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from haochaping.cli.common import (
    console,
    domain_errors,
    err_console,
    open_database,
    parse_now,
    progress_bar,
)
from haochaping.errors import InvalidInput
from haochaping.remarks import mail, mailimport


def import_remarks_mail(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True,
            readable=True,
            help="mbox 文件、Maildir 目录，或存放 .eml 文件的目录",
        ),
    ],
    region: Annotated[str, typer.Option("--region", help="这些邮件所属的行政区划代码")],
    now: Annotated[
        str | None, typer.Option(help="以该时间作为收到时间（ISO 时间，默认当前时间）")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(help="把未能导入的邮件另存为 CSV 错误报告（位置、错误代码、原因）"),
    ] = None,
) -> None:
    """导入电子邮箱收到的意见建议：逐封解码（含 GBK、base64、仅 HTML 的邮件），按 Message-ID
    去重，发件人地址加密保存为联系方式；无法读取的邮件逐封列出原因。"""
    at = parse_now(now)
    database = open_database()
    try:
        with domain_errors():
            try:
                mails = mail.read_source(path)
            except (OSError, ValueError) as exc:
                raise InvalidInput(
                    "remark_mail_source_unreadable", "无法读取邮件文件或目录，请检查路径和格式"
                ) from exc
            with progress_bar() as bar:
                task = bar.add_task("解码并导入", total=len(mails))
                with database.transaction() as session:
                    result = mailimport.import_mails(
                        session=session,
                        mails=mails,
                        region_code=region,
                        now=at,
                        actor="cli:import",
                        progress=lambda: bar.advance(task),
                    )
    finally:
        database.dispose()
    console.print(
        f"邮件导入：{escape(path.name)}，共 {len(mails)} 封，"
        f"[green]已受理 {len(result.stored)} 封[/green]，"
        f"重复 {len(result.duplicates)} 封，"
        f"{'[red]' if result.errors else ''}未能导入 {len(result.errors)} 封"
        f"{'[/red]' if result.errors else ''}"
    )
    if report is not None:
        _write_report(report, result)
        console.print(f"错误报告：{escape(str(report))}")
    if result.errors:
        table = Table(title="[red]以下邮件未导入[/red]")
        table.add_column("位置")
        table.add_column("错误代码")
        table.add_column("原因", overflow="fold")
        for error in result.errors:
            table.add_row(escape(error.ref), error.code, escape(error.message))
        err_console.print(table)
        err_console.print("其余邮件已受理；重新导入时已受理的邮件按 Message-ID 自动跳过。")
        raise typer.Exit(1)


def _write_report(path: Path, result: mailimport.MailImportResult) -> None:
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["ref", "code", "message"])
            for error in result.errors:
                writer.writerow([error.ref, error.code, error.message])
    except OSError as exc:
        err_console.print(f"[red]无法写入错误报告[/red] {escape(str(path))}：{escape(str(exc))}")
        raise typer.Exit(1) from exc
