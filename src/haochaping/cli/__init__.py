"""The ``haochaping`` command: wiring only; each group lives in its own module."""

from __future__ import annotations

import typer

from haochaping.cli import (
    audit,
    calendar,
    callbacks,
    catalog,
    clients,
    db,
    demo,
    device,
    keys,
    paper,
    policy,
    qr,
    remarks,
    report,
    server,
    sms,
    stats,
    users,
    workorders,
)
from haochaping.logfilter import configure_logging

app = typer.Typer(help="政务服务“好差评”系统 haochaping", no_args_is_help=True)
app.add_typer(db.app, name="db", help="数据库迁移")
app.add_typer(policy.app, name="policy", help="评价政策配置（policy profiles）")
app.add_typer(calendar.app, name="calendar", help="工作日历（节假日与调休）")
app.add_typer(catalog.app, name="catalog", help="事项、机构、窗口等目录数据")
app.add_typer(users.app, name="user", help="工作人员账号与角色")
app.add_typer(clients.app, name="client", help="业务系统接入凭据")
app.add_typer(keys.app, name="keys", help="个人信息加密密钥")
app.add_typer(audit.app, name="audit", help="审计日志")
app.add_typer(workorders.app, name="workorder", help="差评工单：列表、详情、文书")
app.add_typer(sms.app, name="sms", help="短信：发送待发短信、模拟短信网关")
app.add_typer(device.app, name="device", help="窗口评价器：登记、配对码、停用")
app.add_typer(stats.app, name="stats", help="统计汇总表：补计、重建")
app.add_typer(report.app, name="report", help="统计报表与“好差评”情况通报")
app.add_typer(qr.app, name="qr", help="窗口静态评价二维码牌")
app.add_typer(callbacks.app, name="callback", help="监督查评：随机抽取评价回访、回访结果汇总")
app.add_typer(paper.app, name="import", help="导入纸质评价表等数据")
paper.app.command("remarks-mail")(remarks.import_remarks_mail)
app.command("serve")(server.serve)
app.command("tick")(server.tick)
app.command("demo")(demo.demo)


def main() -> None:
    # Warnings and errors of any library reach stderr with personal data masked (C9).
    configure_logging("WARNING")
    app()
