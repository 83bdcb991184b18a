"""The bulletin's workbook (G2): 总体情况, one sheet per dimension with the figures of every unit
(the same columns as the dashboards' xlsx export), 排名, 重点关注 and 超期工单.

Each sheet: the bulletin's title in row 1, notes under it, then a styled header row; panes are
frozen below the header (and right of the name on unit sheets); percentages, scores and times
formatted; columns sized to their content. Aggregates only, and work orders without any
personal data (C9).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from haochaping.statistics.bulletin.content import Bulletin
from haochaping.statistics.export import (
    FOCUS_REASONS,
    METRIC_COLUMNS,
    PERCENT_COLUMNS,
    SCORE_COLUMNS,
    metric_values,
    new_workbook,
)
from haochaping.statistics.schemas import DIMENSION_NAMES, Dimension, RankedUnit, UnitMetrics

SUMMARY_SHEET = "总体情况"
RANKING_SHEET = "排名"
FOCUS_SHEET = "重点关注"
OVERDUE_SHEET = "超期工单"

PERCENT = "0.0%"
SCORE = "0.00"
SCORE_CHANGE = "+0.00;-0.00;0.00"
PERCENT_CHANGE = "+0.0%;-0.0%;0.0%"
COUNT_CHANGE = "+0;-0;0"
TIME = "yyyy-mm-dd hh:mm"

RANKING_COLUMNS = [
    "维度",
    "可比组",
    "名次",
    "参与排名单位数",
    "代码",
    "名称",
    "评价数",
    "平均得分",
    "修正得分",
    "组内平均分",
    "说明",
]
FOCUS_COLUMNS = [
    "维度",
    "代码",
    "名称",
    "关注原因",
    "说明",
    "评价数",
    "平均得分",
    "基本满意及以下占比",
]
OVERDUE_COLUMNS = [
    "工单编号",
    "来源",
    "地区",
    "责任部门",
    "窗口",
    "受理时间",
    "超期环节",
    "环节时限",
    "当前状态",
    "是否办结",
    "是否已督办",
    "差评原因",
]
SUMMARY_COLUMNS = ["指标", "本期", "上期", "较上期变化"]
TIME_COLUMNS = {"受理时间", "环节时限"}
EMPTY = "（无）"

_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="2F5597")
_TITLE_FONT = Font(bold=True, size=14)
_NOTE_FONT = Font(italic=True, color="595959")
_THIN = Side(style="thin", color="BFBFBF")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)


@dataclass(frozen=True)
class _Metric:
    name: str
    kind: str  # count, score, percent
    current: float | int | None
    prior: float | int | None


def render(bulletin: Bulletin) -> bytes:
    """The workbook of ``bulletin`` as .xlsx bytes."""
    workbook = new_workbook()
    _summary(workbook, bulletin)
    for section in bulletin.sections:
        _sheet(
            workbook,
            section.title,
            bulletin,
            [f"{section.title}（{len(section.rows)} 个）：{_dimension_note(section.dimension)}"],
            METRIC_COLUMNS,
            [metric_values(row) for row in section.rows],
            freeze_column=3,
        )
    _sheet(
        workbook,
        RANKING_SHEET,
        bulletin,
        [
            "排名规则：" + bulletin.explanation,
            "只在可比组内排名（同层级地区、同层级同条线部门、同条线窗口和工作人员等）。",
        ],
        RANKING_COLUMNS,
        [
            _ranking_values(section.title, row, bulletin.supervision.ranking_min_evaluations)
            for section in bulletin.sections
            for row in section.ranking.items
        ],
    )
    _sheet(
        workbook,
        FOCUS_SHEET,
        bulletin,
        [
            f"重点关注对象：基本满意及以下评价占比达到 {bulletin.supervision.focus_share:.0%}"
            f"（评价数不少于 {bulletin.supervision.focus_min_evaluations} 条），或连续 "
            f"{bulletin.supervision.bottom_periods} 个月处于可比组后 "
            f"{bulletin.supervision.bottom_n} 名。"
        ],
        FOCUS_COLUMNS,
        [
            [
                DIMENSION_NAMES[entry.dimension],
                entry.code,
                entry.name,
                FOCUS_REASONS.get(entry.reason, entry.reason),
                entry.detail,
                entry.evaluations,
                entry.average,
                entry.low_share,
            ]
            for section in bulletin.sections
            for entry in section.focus
        ],
    )
    _sheet(
        workbook,
        OVERDUE_SHEET,
        bulletin,
        ["本期受理、以及此前受理但本期初仍未办结的超期差评工单；不含评价人个人信息。"],
        OVERDUE_COLUMNS,
        [
            [
                order.order_no,
                order.source,
                order.region,
                order.org,
                order.window,
                _naive(order.received_at),
                "、".join(label for label, _ in order.overdue_steps),
                _naive(order.overdue_steps[0][1]) if order.overdue_steps else None,
                order.state,
                "是" if order.closed else "否",
                "是" if order.escalated else "否",
                order.cause,
            ]
            for order in bulletin.overdue
        ],
    )
    props = workbook.properties
    props.title = bulletin.title
    props.subject = "政务服务“好差评”情况通报"
    props.creator = bulletin.issuer or "haochaping"
    props.language = "zh-CN"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _dimension_note(dimension: Dimension) -> str:
    notes = {
        "region": "直属下级地区，按地区内全部直接评价计算（B2）",
        "org": "本地区及下级地区的部门",
        "window": "本地区及下级地区的窗口",
        "staff": "本地区及下级地区的窗口工作人员",
        "line": "业务条线在本地区（县级及以上）的部分",
        "item": "本地区及下级地区部门的服务事项",
    }
    return notes.get(dimension.value, "")


def _ranking_values(title: str, row: RankedUnit, minimum: int) -> list[Any]:
    if row.ranked:
        note = ""
    elif row.shrunk is None:
        note = "本组本期无评价，不排名"
    else:
        note = f"评价数不足 {minimum} 条，不参与排名"
    return [
        title,
        row.group or "全部",
        row.rank,
        row.group_size,
        row.code,
        row.name,
        row.evaluations,
        row.average,
        row.shrunk,
        row.group_mean,
        note,
    ]


def _summary_metrics(current: UnitMetrics, prior: UnitMetrics) -> list[_Metric]:
    def both(name: str, kind: str, attribute: str) -> _Metric:
        return _Metric(name, kind, _get(current, attribute), _get(prior, attribute))

    return [
        both("评价数（条）", "count", "evaluations"),
        both("主动评价数（条）", "count", "active.evaluations"),
        both("默认评价数（条）", "count", "default.evaluations"),
        both("平均得分（分）", "score", "average"),
        both("主动评价平均分（分）", "score", "active.average"),
        both("差评数（条）", "count", "bad"),
        both("差评率", "percent", "bad_rate"),
        both("主动评价率", "percent", "active_rate"),
        both("评价覆盖率", "percent", "coverage"),
        both("基本满意及以下占比", "percent", "low_share"),
        both("差评工单（件）", "count", "work_orders.opened"),
        both("已办结（件）", "count", "work_orders.closed"),
        both("按期办结（件）", "count", "work_orders.on_time"),
        both("超期（件）", "count", "work_orders.overdue"),
        both("整改完成（件）", "count", "work_orders.rectified"),
        both("申诉撤销成立（件）", "count", "work_orders.upheld"),
        both("实名差评回访率", "percent", "work_orders.revisit_rate"),
        both("扣分合计（分）", "score", "work_orders.deductions"),
    ]


def _get(row: UnitMetrics, attribute: str) -> float | int | None:
    value: Any = row
    for part in attribute.split("."):
        value = getattr(value, part)
    assert value is None or isinstance(value, int | float)
    return value


def _summary(workbook: Workbook, bulletin: Bulletin) -> None:
    metrics = _summary_metrics(bulletin.current.unit, bulletin.prior)
    rows = []
    for m in metrics:
        change = None
        if m.current is not None and m.prior is not None:
            change = m.current - m.prior
        rows.append([m.name, m.current, m.prior, change])
    sheet = _sheet(
        workbook,
        SUMMARY_SHEET,
        bulletin,
        [
            f"统计范围：{bulletin.region_name}（{bulletin.region_code}）及其下级地区；"
            f"本期 {bulletin.period.label}，上期 {bulletin.previous.label}。",
            "默认评价与主动评价分列（C7）；申诉撤销成立的评价不计入任何得分（B2）。",
            f"生成时间：{bulletin.generated_at:%Y-%m-%d %H:%M}（北京时间）。",
        ],
        SUMMARY_COLUMNS,
        rows,
    )
    first = sheet.max_row - len(metrics) + 1
    formats = {
        "count": ("0", COUNT_CHANGE),
        "score": (SCORE, SCORE_CHANGE),
        "percent": (PERCENT, PERCENT_CHANGE),
    }
    for offset, m in enumerate(metrics):
        value_format, change_format = formats[m.kind]
        row = first + offset
        for column in (2, 3):
            sheet.cell(row=row, column=column).number_format = value_format
        sheet.cell(row=row, column=4).number_format = change_format


def _naive(value: datetime | None) -> datetime | None:
    """Excel has no time zones: Beijing wall-clock time, to the minute."""
    if value is None:
        return None
    return value.replace(tzinfo=None, second=0, microsecond=0)


def _text_width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 16
    if isinstance(value, float):
        return 8
    text = str(value)
    return sum(2 if ord(char) > 0x2E7F else 1 for char in text)


def _sheet(
    workbook: Workbook,
    name: str,
    bulletin: Bulletin,
    notes: Sequence[str],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    freeze_column: int = 1,
) -> Worksheet:
    sheet: Worksheet = workbook.create_sheet(name[:31])
    width = len(columns)
    sheet.append([bulletin.title])
    sheet.cell(row=1, column=1).font = _TITLE_FONT
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=max(width, 1))
    sheet.row_dimensions[1].height = 24
    for note in notes:
        sheet.append([note])
        row = sheet.max_row
        sheet.cell(row=row, column=1).font = _NOTE_FONT
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=max(width, 1))
    sheet.append(list(columns))
    header = sheet.max_row
    for cell in sheet[header]:
        cell.font = _HEADER_FONT
        cell.fill = _HEADER_FILL
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.border = _BORDER
    sheet.row_dimensions[header].height = 30
    if not rows:
        sheet.append([EMPTY])
    for values in rows:
        sheet.append(list(values))
    for index, column in enumerate(columns, start=1):
        letter = get_column_letter(index)
        number_format = (
            PERCENT
            if column in PERCENT_COLUMNS
            else SCORE
            if column in SCORE_COLUMNS
            else TIME
            if column in TIME_COLUMNS
            else None
        )
        widest = _text_width(column)
        for (cell,) in sheet.iter_rows(min_row=header + 1, min_col=index, max_col=index):
            cell.border = _BORDER
            if number_format is not None and cell.value is not None:
                cell.number_format = number_format
            widest = max(widest, _text_width(cell.value))
        sheet.column_dimensions[letter].width = min(max(widest + 2, 8), 60)
    sheet.freeze_panes = f"{get_column_letter(freeze_column)}{header + 1}"
    sheet.auto_filter.ref = (
        f"A{header}:{get_column_letter(width)}{max(sheet.max_row, header)}" if rows else None
    )
    sheet.print_title_rows = f"{header}:{header}"
    return sheet
