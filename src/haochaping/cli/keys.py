"""`haochaping keys ...`: the keys that encrypt raters' personal data (C9).

C9: the rater's information is confidential and the rating is real-name, so name, ID number
and phone are stored encrypted; these commands create the key file, rotate keys and show
which key the stored data is under.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from haochaping import migrate
from haochaping.audit.service import record
from haochaping.cli.audit import cli_actor
from haochaping.cli.common import console, domain_errors, err_console, open_database
from haochaping.clock import utcnow
from haochaping.config import get_settings
from haochaping.pii import rotation
from haochaping.pii.keyring import add_key, create_keyring_file, load_keyring

app = typer.Typer(no_args_is_help=True)

KEEP_SAFE = "请妥善保管并另行备份该文件：丢失后已加密的个人信息将无法恢复。"


@app.command("init")
def init() -> None:
    """创建个人信息加密密钥文件（首次部署时运行一次；文件已存在时不予覆盖）。"""
    path = get_settings().key_file
    with domain_errors():
        keyring = create_keyring_file(path)
    console.print(
        f"[green]已创建个人信息加密密钥文件[/green]：{escape(str(path))}"
        f"（当前密钥 {keyring.active_kid}）"
    )
    console.print(KEEP_SAFE)


@app.command("rotate")
def rotate(
    resume: Annotated[
        bool,
        typer.Option("--resume", help="继续上次中断的轮换：不新增密钥，沿用当前密钥"),
    ] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=100_000, help="每批重新加密的办件数")
    ] = 500,
) -> None:
    """新增一个密钥并设为当前密钥，再将全部个人信息用它重新加密（中断后可用 --resume 继续）。"""
    settings = get_settings()
    path = settings.key_file
    with domain_errors():
        if resume:
            keyring = load_keyring(path)
            console.print(f"继续轮换：沿用当前密钥 {keyring.active_kid}。")
        else:
            previous = load_keyring(path).active_kid
            kid = add_key(path)
            keyring = load_keyring(path)
            console.print(
                f"已新增密钥 {kid} 并设为当前密钥（原密钥 {previous} 仍保留，用于解密旧数据）。"
            )
            console.print(KEEP_SAFE)
        migrate.upgrade_head(settings.database_url)
        db = open_database()
        try:
            with Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            ) as bar:
                task = bar.add_task(f"用密钥 {keyring.active_kid} 重新加密办件个人信息", total=None)

                def advance(done: int, total: int) -> None:
                    bar.update(task, completed=done, total=total)

                result = rotation.rotate(
                    db, batch_size=batch_size, progress=advance, keyring=keyring
                )
            with db.transaction() as session:
                record(
                    session,
                    now=utcnow(),
                    actor=cli_actor(),
                    action="keys_rotated",
                    target=f"key:{result.active_kid}",
                    details={
                        "cases": result.rotated,
                        "remaining": result.remaining,
                        "client_secrets": result.client_secrets,
                        "resumed": resume,
                    },
                )
        except KeyboardInterrupt:
            err_console.print(
                "[yellow]已中断。[/yellow]已完成的批次均已保存；"
                "运行 haochaping keys rotate --resume 可继续。"
            )
            raise typer.Exit(130) from None
        finally:
            db.dispose()
    console.print(
        f"[green]轮换完成[/green]：本次重新加密办件 {result.rotated:,} 件，"
        f"当前密钥 {result.active_kid}。"
    )
    if result.remaining:
        err_console.print(
            f"[yellow]仍有 {result.remaining:,} 件办件在轮换期间被修改、尚未使用当前密钥，"
            "请再次运行 haochaping keys rotate --resume。[/yellow]"
        )
        raise typer.Exit(1)


@app.command("status")
def status() -> None:
    """按密钥统计已存储的个人信息（姓名、证件号码、手机号码）字段数。"""
    path = get_settings().key_file
    with domain_errors():
        keyring = load_keyring(path)
        db = open_database()
        try:
            counts = rotation.status(db, keyring)
        finally:
            db.dispose()
    table = Table(title="个人信息加密状态", show_header=True)
    table.add_column("密钥")
    table.add_column("字段数", justify="right")
    for kid, count in counts.items():
        if kid == rotation.CLEAR:
            label = "未加密（旧数据）"
        elif kid == rotation.UNKNOWN:
            label = "[red]未知密钥（密钥文件中没有）[/red]"
        elif kid == keyring.active_kid:
            label = f"{kid}（当前密钥）"
        else:
            label = kid
        table.add_row(label, f"{count:,}")
    console.print(table)
    stale = sum(n for kid, n in counts.items() if kid != keyring.active_kid)
    if stale:
        console.print(
            f"有 {stale:,} 项个人信息未使用当前密钥加密，"
            "运行 haochaping keys rotate --resume 可全部改用当前密钥。"
        )
    else:
        console.print("全部个人信息均已使用当前密钥加密。")
