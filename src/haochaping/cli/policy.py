"""``haochaping policy``: show, check and list policy profiles (P1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.markup import escape
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from haochaping.cli.common import console, domain_errors, err_console, open_database
from haochaping.errors import DomainError, InvalidInput
from haochaping.policy.loader import Resolved, available_profiles, resolve, resolve_file
from haochaping.policy.schemas import Duration, LabelCatalogue, Profile
from haochaping.policy.service import profile_name_for_region

app = typer.Typer(no_args_is_help=True, help="评价政策配置（P1）：查看、校验、列出")

# What each key means, for the person reading `policy show`.
_MEANINGS = {
    "name": "配置名",
    "title": "依据文件",
    "version": "版本（记入每条评价）",
    "extends": "上级配置",
    "bad_levels": "差评等级",
    "default_rating": "默认评价",
    "default_rating.level": "默认评价等级",
    "default_rating.delay": "未评价多久后默认",
    "reminder_delay": "办结后多久短信提醒",
    "supplementary_window": "补充评价期限",
    "follow_up_window": "追加评价期限",
    "rating_window": "评价开放期限（无默认评价时）",
    "text_review.window": "差评文字审核时限",
    "text_review.silence_means_approved": "逾期未审核视为同意",
    "work_order.registration": "差评登记时限",
    "work_order.verify": "核实时限",
    "work_order.revisit": "回访时限",
    "work_order.rectify": "整改时限",
    "work_order.report": "调查整改报告时限",
    "work_order.report_upward": "报上级时限",
    "work_order.appeal": "申诉撤销时限",
    "work_order.appeal_review": "申诉复核时限",
    "scoring.item_only_counts_for_units": "仅评事项的评价计入机构、条线、地区",
    "scoring.batch_counts_each_transaction": "批量业务每笔都计一次评价",
    "bad_review_requires_reason": "差评须选标签或填写文字",
    "labels": "差评标签目录",
}


def _meaning(path: str) -> str:
    parts = path.split(".")
    if parts[0] == "levels" and len(parts) == 3:
        return f"等级 {parts[1]} 的{'名称' if parts[2] == 'name' else '分值'}"
    return _MEANINGS.get(path, "")


def _value_at(profile: Profile, path: str) -> Any:
    value: Any = profile
    for part in path.split("."):
        if isinstance(value, BaseModel):
            value = getattr(value, part)
        elif isinstance(value, dict):
            value = next(v for k, v in value.items() if str(k) == part)
        else:  # pragma: no cover - provenance only holds paths of the profile
            raise KeyError(path)
    return value


def _format(profile: Profile, path: str, value: Any) -> str:
    if value is None:
        return "无"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, Duration):
        return "当日" if value.amount == 0 and value.unit == "working_days" else value.describe()
    if isinstance(value, LabelCatalogue):
        return f"{value.version}（{len(value.labels)} 个标签，见下表）"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return "、".join(str(item) for item in value)
    if path == "default_rating.level":
        return f"{value}（{profile.levels[value].name}）"
    return str(value)


def _print(resolved: Resolved, heading: str | None = None) -> None:
    profile = resolved.profile
    if heading:
        console.print(heading)
    chain = " → ".join(Path(f).stem for f in resolved.files)
    console.print(
        f"配置 [bold]{profile.name}[/bold]（{escape(profile.title)}），"
        f"版本 {escape(profile.version)}"
    )
    console.print(f"继承链：{chain}")
    for file in resolved.files:
        console.print(f"  {Path(file).name} = {escape(file)}", style="dim", soft_wrap=True)
    table = Table(title="生效取值及来源", show_lines=False)
    table.add_column("配置项", overflow="fold")
    table.add_column("含义", overflow="fold")
    table.add_column("取值", overflow="fold")
    table.add_column("来源文件", overflow="fold")
    for path, source in resolved.provenance.items():
        value = _value_at(profile, path)
        table.add_row(
            path, _meaning(path), escape(_format(profile, path, value)), escape(Path(source).name)
        )
    console.print(table)
    labels = Table(title=f"差评标签目录 {profile.labels.version}")
    labels.add_column("编码")
    labels.add_column("分组")
    labels.add_column("标签", overflow="fold")
    labels.add_column("适用等级", overflow="fold")
    for label in profile.labels.labels:
        levels = "、".join(profile.levels[level].name for level in label.levels)
        labels.add_row(escape(label.code), escape(label.group), escape(label.name), levels)
    console.print(labels)


def _profile_name_for_region(region_code: str) -> str:
    database = open_database()
    try:
        with database.transaction() as session:
            return profile_name_for_region(session=session, region_code=region_code)
    except SQLAlchemyError as exc:
        raise InvalidInput(
            "database_unavailable",
            f"无法从数据库读取行政区划 {region_code}（数据库是否已建表？）：{type(exc).__name__}",
        ) from exc
    finally:
        database.dispose()


@app.command("show")
def show(
    target: Annotated[
        str | None, typer.Argument(help="行政区划代码：按数据库中的行政区划树确定适用的配置")
    ] = None,
    profile: Annotated[
        str | None, typer.Option("--profile", "-p", help="直接按配置名查看（不连接数据库）")
    ] = None,
) -> None:
    """显示生效的每一项政策取值，以及它来自哪个配置文件。"""
    with domain_errors():
        if target is not None and profile is None:
            name = _profile_name_for_region(target)
            heading: str | None = f"行政区划 {escape(target)} 适用配置：{name}"
        elif profile is not None and target is None:
            name, heading = profile, None
        else:
            raise InvalidInput(
                "bad_arguments", "请给出行政区划代码，或用 --profile 给出配置名（二者选一）"
            )
        _print(resolve(name), heading)


@app.command("check")
def check(
    file: Annotated[Path, typer.Argument(help="要校验的配置文件（YAML），连同其上级配置一起校验")],
) -> None:
    """校验一个配置文件：通过则显示配置名和版本，否则显示错误并以状态 1 退出。"""
    with domain_errors():
        resolved = resolve_file(file)
    profile = resolved.profile
    chain = " → ".join(Path(f).stem for f in resolved.files)
    console.print(
        f"[green]OK[/green] {escape(str(file))}：配置 {profile.name}（{escape(profile.title)}），"
        f"版本 {profile.version}，继承链 {chain}",
        soft_wrap=True,
    )


@app.command("list")
def list_profiles() -> None:
    """列出可用的配置（含 HCP_POLICY_DIR 中的），及其依据文件和版本。"""
    table = Table(title="可用的政策配置")
    table.add_column("配置名")
    table.add_column("依据文件", overflow="fold")
    table.add_column("版本", overflow="fold")
    table.add_column("上级配置")
    broken = 0
    for name in available_profiles():
        try:
            profile = resolve(name).profile
        except DomainError as exc:
            broken += 1
            table.add_row(name, f"[red]无效[/red]：{escape(exc.message)}", "", "")
            continue
        table.add_row(name, escape(profile.title), escape(profile.version), profile.extends or "—")
    console.print(table)
    if broken:
        err_console.print(f"[red]错误[/red] 有 {broken} 个配置无效，请用 policy check 查看详情")
        raise typer.Exit(1)
