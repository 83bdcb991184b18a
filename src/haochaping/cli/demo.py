"""``haochaping demo``: a demo province to explore the system with."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from haochaping import migrate
from haochaping.accounts.service import DemoAccount, create_demo_accounts
from haochaping.cli.common import (
    console,
    domain_errors,
    err_console,
    open_database,
    parse_now,
)
from haochaping.cli.users import cli_actor
from haochaping.clock import utcnow
from haochaping.config import get_settings
from haochaping.demo.generator import DemoSummary, existing_data, generate_demo, reset_database
from haochaping.evaluations.models import CHANNEL_NAMES, Channel
from haochaping.pii.keyring import create_keyring_file

BASE_URL = "http://127.0.0.1:8000"


def demo(
    cases: Annotated[int, typer.Option("--cases", min=1, help="办件数量")] = 10_000,
    days: Annotated[int, typer.Option("--days", min=1, max=3650, help="办件分布在最近多少天")] = 90,
    seed: Annotated[int, typer.Option("--seed", help="随机种子（相同种子生成相同数据）")] = 2026,
    now: Annotated[
        str | None, typer.Option("--now", help="以该时间为“现在”（ISO 时间，默认当前时间）")
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="先清空数据库中的全部业务数据（保留工作日历）")
    ] = False,
) -> None:
    """创建演示数据：广西部分市县的目录、办件、评价和默认评价。"""
    at = parse_now(now)
    url = get_settings().database_url
    migrate.upgrade_head(url)
    db = open_database()
    try:
        n_cases, n_regions = existing_data(db)
        if (n_cases or n_regions) and not reset:
            err_console.print(
                f"[yellow]数据库中已有数据（办件 {n_cases} 件、行政区划 {n_regions} 个），"
                "未生成演示数据。[/yellow]\n"
                "如需清空后重新生成，请加 --reset 参数（将删除现有的全部业务数据）。"
            )
            raise typer.Exit(1)
        if reset and (n_cases or n_regions):
            reset_database(db)
            console.print("已清空现有数据。")
        _ensure_key_file()
        with (
            domain_errors(),
            Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar,
        ):
            task = bar.add_task("生成办件与评价", total=cases)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)
                if done >= total:
                    bar.update(task, description="生成默认评价（7日未评价）")

            summary = generate_demo(
                db=db, cases=cases, days=days, seed=seed, now=at, progress=advance
            )
        with domain_errors(), db.transaction() as session:
            demo_accounts = create_demo_accounts(session, now=utcnow(), actor=cli_actor())
    finally:
        db.dispose()
    _report(summary, at.isoformat())
    _report_accounts(demo_accounts)


def _report_accounts(demo_accounts: list[DemoAccount]) -> None:
    table = Table(title="演示账号（首次登录须修改初始密码）", show_header=True, show_lines=True)
    for column in ("用户名", "角色", "范围", "初始密码"):
        table.add_column(column)
    for account in demo_accounts:
        table.add_row(
            escape(account.username),
            "\n".join(escape(g.role_label) for g in account.grants),
            "\n".join(escape(g.scope_name) for g in account.grants),
            escape(account.initial_password or "（账号已存在，未修改）"),
        )
    console.print(table)
    console.print(f"管理后台：{BASE_URL}/console/login", highlight=False)


def _ensure_key_file() -> None:
    """Raters' personal data is stored encrypted (C9): a first demo creates the key file."""
    path = get_settings().key_file
    if path.exists():
        return
    with domain_errors():
        create_keyring_file(path)
    console.print(
        f"已创建个人信息加密密钥文件：{escape(str(path))}"
        "（办件中的姓名、证件号码、手机号码将加密存储，请勿删除该文件）"
    )


def _report(summary: DemoSummary, at: str) -> None:
    console.print(f"[green]演示数据已生成[/green]（截至 {at}，用时 {summary.seconds:.1f} 秒）")
    table = Table(title="演示数据概况", show_header=True)
    table.add_column("项目")
    table.add_column("数量", justify="right")
    rows = (
        ("行政区划", summary.regions),
        ("服务大厅", summary.halls),
        ("业务条线", summary.lines),
        ("机构", summary.organisations),
        ("事项", summary.items),
        ("窗口", summary.windows),
        ("工作人员", summary.staff),
        ("办件", summary.cases),
        ("其中“一件事”", summary.bundles),
        ("其中批量办件", summary.batches),
        ("评价场次", summary.occasions),
        ("主动评价", summary.active_evaluations),
        ("默认评价", summary.default_evaluations),
        ("差评", summary.bad_reviews),
        ("补充评价", summary.supplementary),
        ("追加评价", summary.follow_ups),
        ("综合点评", summary.remarks),
        ("监督查评抽取的评价", summary.callback_items),
        ("尚在评价期内", summary.open_occasions),
    )
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    console.print(table)
    channels = Table(title="主动评价渠道", show_header=True)
    channels.add_column("代码", justify="right")
    channels.add_column("渠道")
    channels.add_column("评价数", justify="right")
    for channel in Channel:
        count = summary.per_channel.get(int(channel), 0)
        channels.add_row(str(int(channel)), CHANNEL_NAMES[channel], f"{count:,}")
    console.print(channels)
    console.print(
        "启动服务：[bold]haochaping serve[/bold]，然后用下方演示账号登录控制台 "
        + f"{BASE_URL}/console/（首次登录须修改初始密码），接口文档见 {BASE_URL}/docs"
    )
    console.print(
        "业务系统调用接口须先登记（haochaping client add）并对每个请求签名，方法见 docs/signing.md",
        soft_wrap=True,
    )
