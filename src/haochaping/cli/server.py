"""``haochaping serve`` and ``haochaping tick``."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from haochaping import migrate, sweeper
from haochaping.audit.profiles import record_current_profiles
from haochaping.cli.common import console, open_database, parse_now
from haochaping.clock import utcnow
from haochaping.config import get_settings


def serve(
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口")] = 8000,
    workers: Annotated[int, typer.Option(help="工作进程数（PostgreSQL 下可多进程）")] = 1,
    upgrade: Annotated[bool, typer.Option(help="启动前自动升级数据库结构")] = True,
) -> None:
    """启动服务（API 文档见 /docs），并定时处理到期事项。"""
    if upgrade:
        migrate.upgrade_head(get_settings().database_url)
    db = open_database()
    try:
        with db.transaction() as session:
            changed = record_current_profiles(session, utcnow())
    finally:
        db.dispose()
    if changed:
        console.print("评价政策配置有变化，已记入审计日志：" + "、".join(changed))
    console.print(f"服务地址 http://{host}:{port}/docs")
    uvicorn.run(
        "haochaping.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=False,
        # The application decides which proxies to believe (HCP_TRUSTED_PROXIES).
        proxy_headers=False,
    )


def tick(
    now: Annotated[str | None, typer.Option(help="以该时间处理（ISO 时间，默认当前时间）")] = None,
) -> None:
    """处理所有到期事项（默认评价等），可重复执行。"""
    at = parse_now(now)
    db = open_database()
    try:
        result = sweeper.run_sweep(db, at)
    finally:
        db.dispose()
    console.print(f"处理时间 {at.isoformat()}：共处理 {result.total} 项")
    for kind, n in sorted(result.processed.items()):
        console.print(f"  {kind}: {n}")
    if result.folded:
        console.print(f"  统计汇总：并入 {result.folded} 条")
    if result.failed:
        console.print(f"[red]失败 {result.failed} 项（已记录，将在下次重试）[/red]")
        raise typer.Exit(1)
