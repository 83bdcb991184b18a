"""``haochaping sms``: send the outbox now, see its state, run a local fake gateway."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from haochaping.channels import sms_delivery
from haochaping.channels.sms_fake_gateway import FakeGateway, http_callback
from haochaping.channels.sms_gateway import gateway_from_settings
from haochaping.cli.common import console, err_console, open_database, parse_now
from haochaping.config import get_settings
from haochaping.messaging import service as messaging

app = typer.Typer(no_args_is_help=True)

STATUS_NAMES = {"queued": "待发送", "sent": "已发送", "delivered": "已送达", "failed": "发送失败"}


@app.command("send")
def send(
    now: Annotated[str | None, typer.Option(help="以该时间发送（ISO 时间，默认当前时间）")] = None,
) -> None:
    """把到期的待发短信交给短信网关发送一遍（失败的按退避时间稍后重试）。"""
    gateway = gateway_from_settings()
    if gateway is None:
        err_console.print(
            "[red]错误[/red] 未配置短信网关地址（HCP_SMS_GATEWAY_URL），短信仍在待发队列中"
        )
        raise typer.Exit(1)
    at = parse_now(now)
    db = open_database()
    try:
        due = sms_delivery.due_count(db, at)
        columns = (
            TextColumn("发送短信"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err_console) as bar:
            task = bar.add_task("sms", total=due)
            result = sms_delivery.flush_outbox(
                db, at, gateway, on_progress=lambda n: bar.advance(task, n)
            )
    finally:
        gateway.close()
        db.dispose()
    console.print(
        f"已发送 {result.sent} 条，发送失败 {result.failed_attempts} 次"
        f"（其中 {result.given_up} 条已达重试上限）"
    )
    if result.failed_attempts:
        raise typer.Exit(1)


@app.command("status")
def status() -> None:
    """各发送状态的短信数量。"""
    db = open_database()
    try:
        with db.transaction() as session:
            counts = messaging.counts_by_status(session=session)
    finally:
        db.dispose()
    for key, name in STATUS_NAMES.items():
        console.print(f"{name}：{counts.get(key, 0)}")


@app.command("fake-gateway")
def fake_gateway(
    port: Annotated[int, typer.Option(help="监听端口")] = 9010,
    host: Annotated[str, typer.Option(help="监听地址")] = "127.0.0.1",
    callback: Annotated[
        str | None,
        typer.Option(help="回调本系统的地址（送达报告与回复），如 http://127.0.0.1:8000"),
    ] = None,
) -> None:
    """运行本地模拟短信网关（演示与联调用）：记录收到的短信，自动回送送达报告。"""
    settings = get_settings()
    fake = FakeGateway(
        key=settings.sms_signing_key,
        account=settings.sms_account,
        host=host,
        port=port,
        callback=http_callback(callback) if callback else None,
        auto_report=callback is not None,
    ).start()
    console.print(f"模拟短信网关 {fake.url}（HCP_SMS_GATEWAY_URL 设为此地址；Ctrl+C 退出）")
    console.print('GET /sms/messages 查看收到的短信；POST /sms/reply {"from", "text"} 模拟回复')
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
