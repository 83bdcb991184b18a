"""Every statistics table as an xlsx workbook (issue 6: "Every table exports to xlsx"). The
tables hold aggregate figures only: no rater is named in them."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from haochaping.statistics.schemas import FocusEntry, Overview, RankedUnit, UnitMetrics

LEVEL_COLUMNS = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
METRIC_COLUMNS = [
    "代码",
    "名称",
    "可比组",
    "评价数",
    "平均得分",
    "主动评价数",
    "主动评价平均分",
    "默认评价数",
    *LEVEL_COLUMNS,
    "差评数",
    "差评率",
    "主动评价率",
    "评价覆盖率",
    "基本满意及以下占比",
    "差评工单数",
    "按时办结",
    "超期",
    "整改完成",
    "申诉",
    "申诉成立",
    "实名差评",
    "已回访",
    "实名差评回访率",
    "扣分",
]
RANK_COLUMNS = ["排名", "参与排名单位数", "修正得分", "组内平均分"]
FOCUS_COLUMNS = ["代码", "名称", "关注原因", "说明", "评价数", "平均得分"]
FOCUS_REASONS = {"concentrated_low": "低评价集中", "bottom_consecutive": "连续排名靠后"}
PERCENT_COLUMNS = {
    "差评率",
    "主动评价率",
    "评价覆盖率",
    "基本满意及以下占比",
    "实名差评回访率",
    "占比",
}
SCORE_COLUMNS = {"平均得分", "主动评价平均分", "修正得分", "组内平均分"}


def metric_values(row: UnitMetrics) -> list[Any]:
    w = row.work_orders
    return [
        row.code,
        row.name,
        row.group,
        row.evaluations,
        row.average,
        row.active.evaluations,
        row.active.average,
        row.default.evaluations,
        *(row.levels.get(level, 0) for level in (5, 4, 3, 2, 1)),
        row.bad,
        row.bad_rate,
        row.active_rate,
        row.coverage,
        row.low_share,
        w.opened,
        w.on_time,
        w.overdue,
        w.rectified,
        w.appealed,
        w.upheld,
        w.real_name,
        w.revisited,
        w.revisit_rate,
        w.deductions,
    ]


def ranked_values(row: RankedUnit) -> list[Any]:
    return [row.rank, row.group_size, row.shrunk, row.group_mean, *metric_values(row)]


def focus_values(entry: FocusEntry) -> list[Any]:
    return [
        entry.code,
        entry.name,
        FOCUS_REASONS.get(entry.reason, entry.reason),
        entry.detail,
        entry.evaluations,
        entry.average,
    ]


def add_sheet(
    workbook: Workbook, title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """One formatted sheet: bold frozen header, percentages and scores formatted, widths."""
    sheet = workbook.create_sheet(title[:31])
    sheet.append(list(columns))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="DDEBF7")
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for values in rows:
        sheet.append(list(values))
    for index, name in enumerate(columns, start=1):
        letter = get_column_letter(index)
        fmt = "0.0%" if name in PERCENT_COLUMNS else "0.00" if name in SCORE_COLUMNS else None
        if fmt:
            for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
                cell.number_format = fmt
        sheet.column_dimensions[letter].width = 28 if name in ("名称", "说明") else 12
    sheet.freeze_panes = "C2"


def new_workbook() -> Workbook:
    """A workbook without openpyxl's default empty sheet."""
    workbook = Workbook()
    if workbook.active is not None:
        workbook.remove(workbook.active)
    return workbook


def workbook_bytes(workbook: Workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def table_xlsx(title: str, rows: Sequence[UnitMetrics]) -> bytes:
    workbook = new_workbook()
    add_sheet(workbook, title, METRIC_COLUMNS, [metric_values(r) for r in rows])
    return workbook_bytes(workbook)


def ranking_xlsx(title: str, rows: Sequence[RankedUnit]) -> bytes:
    workbook = new_workbook()
    add_sheet(workbook, title, [*RANK_COLUMNS, *METRIC_COLUMNS], [ranked_values(r) for r in rows])
    return workbook_bytes(workbook)


def focus_xlsx(title: str, entries: Sequence[FocusEntry]) -> bytes:
    workbook = new_workbook()
    add_sheet(workbook, title, FOCUS_COLUMNS, [focus_values(e) for e in entries])
    return workbook_bytes(workbook)


def overview_xlsx(title: str, overview: Overview) -> bytes:
    """One unit's page as a workbook: its figures, the daily trend, the level distribution,
    the channels and the labels (the tables behind the dashboard's charts)."""
    workbook = new_workbook()
    unit = overview.unit
    add_sheet(workbook, title, METRIC_COLUMNS, [metric_values(unit)])
    add_sheet(
        workbook,
        "每日趋势",
        ["日期", "评价数", "主动评价数", "平均得分", "差评数"],
        [[p.day, p.evaluations, p.active, p.average, p.bad] for p in overview.trend],
    )
    add_sheet(
        workbook,
        "等级分布",
        ["等级", "评价数"],
        [
            [name, unit.levels.get(level, 0)]
            for level, name in zip((5, 4, 3, 2, 1), LEVEL_COLUMNS, strict=True)
        ],
    )
    add_sheet(
        workbook,
        "评价渠道",
        ["渠道", "评价数", "占比", "平均得分"],
        [[c.name, c.evaluations, c.share, c.average] for c in overview.channels],
    )
    add_sheet(
        workbook,
        "评价标签",
        ["标签", "类别", "次数", "占比"],
        [[s.name, s.group, s.evaluations, s.share] for s in overview.labels],
    )
    return workbook_bytes(workbook)
