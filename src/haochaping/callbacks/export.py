"""监督查评 (D2) workbooks: one sample's items and the findings. Phones masked (C9), always:
an export is never a way around the audited reveal."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from haochaping.callbacks.schemas import DenialOut, ItemOut, SampleOut, SummaryOut, Tally
from haochaping.clock import BEIJING

SAMPLE_COLUMNS = [
    "序号",
    "评价编号",
    "办件编号",
    "机构",
    "窗口",
    "工作人员",
    "评价渠道",
    "评价等级",
    "评价时间（北京时间）",
    "联系电话（已脱敏）",
    "回访结果",
    "联系次数",
    "评价人现表示的满意程度",
    "备注",
    "登记时间（北京时间）",
    "登记人",
]
TALLY_COLUMNS = ["名称", "抽取", "确认属实", "否认评价", "联系未果", "待回访", "否认率"]
DENIAL_COLUMNS = [
    "样本编号",
    "评价编号",
    "办件编号",
    "地区",
    "机构",
    "窗口",
    "工作人员",
    "评价渠道",
    "评价等级",
    "评价时间（北京时间）",
    "登记时间（北京时间）",
    "登记人",
    "备注",
]


def _when(value: datetime | None) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else ""


def _sheet(workbook: Workbook, title: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
    sheet = workbook.create_sheet(title[:31])
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
    for row in rows:
        sheet.append(list(row))
    for index, name in enumerate(columns):
        if name == "否认率":
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index + 1, max_col=index + 1):
                cell.number_format = "0.0%"
    sheet.freeze_panes = "B2"


def _bytes(workbook: Workbook) -> bytes:
    if workbook.active is not None and workbook.active.title == "Sheet":
        workbook.remove(workbook.active)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _item_row(item: ItemOut) -> list[Any]:
    return [
        item.position,
        item.evaluation_id,
        item.case_no,
        item.org_name,
        item.window_name or "",
        item.staff_name or "",
        item.channel_name,
        item.level_name,
        _when(item.rated_at),
        # Masked even if the caller revealed it a moment ago (C9).
        item.phone if not item.phone_clear else "",
        item.outcome_name,
        item.attempts,
        str(item.stated_level) if item.stated_level else "",
        item.note or "",
        _when(item.outcome_at),
        item.outcome_by or "",
    ]


def sample_xlsx(sample: SampleOut) -> bytes:
    """One sample: its parameters and its items with their outcomes."""
    workbook = Workbook()
    params = [
        ("样本编号", sample.id),
        ("地区", sample.region_name),
        ("评价期间", f"{_when(sample.period_from)} 至 {_when(sample.period_to)}（不含）"),
        ("机构", sample.org_name or "全部"),
        ("工作人员", sample.staff_name or "全部"),
        ("评价渠道", sample.channel_name or "全部"),
        ("符合条件的评价数", sample.eligible),
        ("申请抽取数", sample.requested_size),
        ("实际抽取数", sample.size),
        ("随机种子", sample.seed),
        ("抽取方法", sample.method),
        ("抽取人", sample.created_by),
        ("抽取时间", _when(sample.created_at)),
        ("状态", sample.status_name),
    ]
    _sheet(workbook, "抽查样本", ["项目", "内容"], params)
    _sheet(workbook, "回访明细", SAMPLE_COLUMNS, [_item_row(i) for i in sample.items])
    return _bytes(workbook)


def _tally_row(t: Tally) -> list[Any]:
    return [
        t.name,
        t.drawn,
        t.confirmed,
        t.denied,
        t.unreachable,
        t.pending,
        t.denial_rate if t.denial_rate is not None else "",
    ]


def _denial_row(d: DenialOut) -> list[Any]:
    return [
        d.sample_id,
        d.evaluation_id,
        d.case_no,
        d.region_name,
        d.org_name,
        d.window_name or "",
        d.staff_name or "",
        d.channel_name,
        d.level_name,
        _when(d.rated_at),
        _when(d.outcome_at),
        d.outcome_by or "",
        d.note or "",
    ]


def summary_xlsx(found: SummaryOut, denied: Sequence[DenialOut]) -> bytes:
    """The findings: per organisation, staff and channel, and the denied evaluations."""
    workbook = Workbook()
    _sheet(workbook, "按机构", TALLY_COLUMNS, [_tally_row(t) for t in [*found.by_org, found.total]])
    _sheet(workbook, "按工作人员", TALLY_COLUMNS, [_tally_row(t) for t in found.by_staff])
    _sheet(workbook, "按评价渠道", TALLY_COLUMNS, [_tally_row(t) for t in found.by_channel])
    _sheet(workbook, "否认评价明细", DENIAL_COLUMNS, [_denial_row(d) for d in denied])
    return _bytes(workbook)
