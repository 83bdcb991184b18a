"""The catalogue file format (A2): column names and the words a file may use, and reading a CSV
or XLSX file into raw rows that remember their sheet and row number.

Nothing here looks at the database or judges a value beyond recognising it; ``validation`` does.
The format is described in ``docs/catalog.md``.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from haochaping.catalog.models import Handling, ItemKind, RegionLevel
from haochaping.errors import InvalidInput


class RecordType(StrEnum):
    """The value of the ``type`` column, in the order records are loaded."""

    region = "region"
    line = "line"
    hall = "hall"
    org = "org"
    item = "item"
    window = "window"
    staff = "staff"


TYPE_LABELS: dict[RecordType, str] = {
    RecordType.region: "行政区划",
    RecordType.line: "业务条线",
    RecordType.hall: "大厅",
    RecordType.org: "机构",
    RecordType.item: "事项",
    RecordType.window: "窗口",
    RecordType.staff: "人员",
}

TYPE_ALIASES: dict[str, RecordType] = {
    **{t.value: t for t in RecordType},
    **{label: t for t, label in TYPE_LABELS.items()},
    "organization": RecordType.org,
    "business_line": RecordType.line,
    "service_item": RecordType.item,
    "区划": RecordType.region,
    "政务服务中心": RecordType.hall,
    "条线": RecordType.line,
    "政务服务机构": RecordType.org,
    "政务服务事项": RecordType.item,
    "窗口工作人员": RecordType.staff,
}

COLUMNS: tuple[str, ...] = (
    "type",
    "code",
    "name",
    "parent",
    "level",
    "profile",
    "region",
    "hall",
    "line",
    "org",
    "window",
    "kind",
    "handling",
    "promised_days",
)

COLUMN_ALIASES: dict[str, str] = {
    **{c: c for c in COLUMNS},
    "类型": "type",
    "编码": "code",
    "代码": "code",
    "名称": "name",
    "姓名": "name",
    "上级": "parent",
    "上级编码": "parent",
    "级别": "level",
    "层级": "level",
    "政策配置": "profile",
    "行政区划": "region",
    "区划": "region",
    "大厅": "hall",
    "业务条线": "line",
    "条线": "line",
    "机构": "org",
    "窗口": "window",
    "办件类型": "kind",
    "事项类型": "kind",
    "办理方式": "handling",
    "承诺时限": "promised_days",
    "承诺天数": "promised_days",
}

# Required columns per type, then the optional ones; other columns are ignored for that type.
REQUIRED: dict[RecordType, tuple[str, ...]] = {
    RecordType.region: ("code", "name"),
    RecordType.line: ("code", "name"),
    RecordType.hall: ("code", "name", "region"),
    RecordType.org: ("code", "name", "region"),
    RecordType.item: ("code", "name", "org", "kind", "handling"),
    RecordType.window: ("code", "name", "hall", "org"),
    RecordType.staff: ("code", "name", "org"),
}

# The words a file may write for a region level, an item's kind and its ways of handling.
LEVEL_ALIASES: dict[str, RegionLevel] = {
    **{lv.value: lv for lv in RegionLevel},
    "省": RegionLevel.province,
    "自治区": RegionLevel.province,
    "直辖市": RegionLevel.province,
    "市": RegionLevel.city,
    "设区市": RegionLevel.city,
    "县": RegionLevel.county,
    "区": RegionLevel.county,
    "县级市": RegionLevel.county,
    "乡镇": RegionLevel.township,
    "乡": RegionLevel.township,
    "镇": RegionLevel.township,
    "街道": RegionLevel.township,
    "村": RegionLevel.village,
    "社区": RegionLevel.village,
}
LEVEL_LABELS: dict[RegionLevel, str] = {
    RegionLevel.province: "省级",
    RegionLevel.city: "市级",
    RegionLevel.county: "县级",
    RegionLevel.township: "乡镇级",
    RegionLevel.village: "村级",
}
LEVEL_RANK: dict[RegionLevel, int] = {lv: i for i, lv in enumerate(RegionLevel)}
KIND_ALIASES: dict[str, ItemKind] = {
    **{k.value: k for k in ItemKind},
    "即办": ItemKind.immediate,
    "即办件": ItemKind.immediate,
    "承诺": ItemKind.promised,
    "承诺件": ItemKind.promised,
}
HANDLING_ALIASES: dict[str, Handling] = {
    **{h.value: h for h in Handling},
    "网办": Handling.online,
    "网上办理": Handling.online,
    "窗口": Handling.window,
    "窗口办理": Handling.window,
    "自助": Handling.terminal,
    "自助终端": Handling.terminal,
}
HANDLING_SEPARATORS = ("，", "、", ";", "；", "|", " ")


@dataclass(frozen=True)
class Sheet:
    index: int
    name: str | None  # None for CSV
    display: Mapping[str, str]  # canonical column -> header as written


@dataclass
class Row:
    """One data row: its raw values by canonical column, and what validation parsed from them."""

    type: RecordType
    sheet: Sheet
    number: int
    values: dict[str, str]
    level: RegionLevel | None = None
    kind: ItemKind | None = None
    handling: str = ""
    promised_days: int = 0
    path: str | None = None

    @property
    def code(self) -> str:
        return self.values.get("code", "")

    def get(self, column: str) -> str | None:
        return self.values.get(column) or None


class ErrorSink(Protocol):
    """Where reading reports a problem; ``validation.Errors`` collects them for the whole file."""

    def add(self, sheet: Sheet, number: int, column: str | None, message: str) -> None: ...


# --------------------------------------------------------------------------- reading files


def _cell_text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_table(
    sheet_index: int,
    sheet_name: str | None,
    rows: Iterable[Sequence[object]],
    errors: ErrorSink,
    out: list[Row],
) -> None:
    """Turn one table (header in row 1) into rows; a sheet named by a type fixes their type."""
    sheet_type = TYPE_ALIASES.get((sheet_name or "").strip().lower()) if sheet_name else None
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None:
        return
    columns: list[str | None] = []
    display: dict[str, str] = {}
    problems: list[str] = []
    for cell in header:
        text = _cell_text(cell)
        canonical = COLUMN_ALIASES.get(text.lower()) if text else None
        if text and canonical is None:
            problems.append(f"无法识别的列名“{text}”")
        elif canonical is not None and canonical in display:
            problems.append(f"列“{text}”与列“{display[canonical]}”重复")
            canonical = None
        elif canonical is not None:
            display[canonical] = text
        columns.append(canonical)
    probe = Sheet(sheet_index, sheet_name, display)
    if not any(_cell_text(c) for c in header):
        if any(any(_cell_text(c) for c in r) for r in iterator):
            errors.add(probe, 1, None, "第 1 行应为表头")
        return
    if sheet_type is None and "type" not in display:
        where = f"工作表“{sheet_name}”" if sheet_name else "文件"
        errors.add(probe, 1, None, f"{where}缺少“type”（类型）列，也不以类型命名")
        return
    for problem in problems:
        errors.add(probe, 1, None, problem)
    sheet = Sheet(sheet_index, sheet_name, display)
    for number, raw in enumerate(iterator, start=2):
        values: dict[str, str] = {}
        for col, cell in zip(columns, raw, strict=False):
            if col is not None and (text := _cell_text(cell)):
                values[col] = text
        if not values:
            continue
        written = values.get("type")
        row_type = TYPE_ALIASES.get(written.lower()) if written else sheet_type
        if written and row_type is None:
            errors.add(sheet, number, "type", f"未知的类型“{written}”")
            continue
        if row_type is None:
            errors.add(sheet, number, "type", "缺少类型")
            continue
        if sheet_type is not None and row_type != sheet_type:
            message = f"类型“{written}”与工作表“{sheet_name}”不一致"
            errors.add(sheet, number, "type", message)
            continue
        out.append(Row(row_type, sheet, number, values))


def read_file(path: Path, errors: ErrorSink) -> list[Row]:
    """Every non-blank data row of a .csv or .xlsx file; problems of layout go to ``errors``."""
    suffix = path.suffix.lower()
    out: list[Row] = []
    try:
        if suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as fh:
                _read_table(0, None, csv.reader(fh), errors, out)
        elif suffix == ".xlsx":
            from openpyxl import load_workbook

            workbook = load_workbook(path, read_only=True, data_only=True)
            try:
                for index, sheet in enumerate(workbook.worksheets):
                    rows = sheet.iter_rows(values_only=True)
                    _read_table(index, sheet.title, rows, errors, out)
            finally:
                workbook.close()
        else:
            raise InvalidInput("catalog_file_unsupported", "目录文件只支持 .csv 和 .xlsx 格式")
    except UnicodeDecodeError as exc:
        message = "CSV 文件必须是 UTF-8 编码（Excel 另存为时请选择“CSV UTF-8”）"
        raise InvalidInput("catalog_file_unreadable", message) from exc
    except (OSError, zipfile.BadZipFile, KeyError, csv.Error) as exc:
        message = f"无法读取目录文件 {path.name}：{exc}"
        raise InvalidInput("catalog_file_unreadable", message) from exc
    return out
