"""Catalogue import (A2-A5): read a CSV / XLSX file, validate every row, then upsert by code.

Nothing is written unless the whole file is valid: every problem is collected and raised at once
as ``InvalidInput("catalog_file_invalid", details=[{row, sheet, column, message}, ...])``.
The format is described in ``docs/catalog.md``.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import String, or_, select
from sqlalchemy.orm import Session

from haochaping.catalog.models import (
    BusinessLine,
    Hall,
    Handling,
    ItemKind,
    Organization,
    Region,
    RegionLevel,
    ServiceItem,
    Staff,
    Window,
)
from haochaping.db import Base
from haochaping.errors import InvalidInput

Progress = Callable[[int, int], None]


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

_TYPE_ALIASES: dict[str, RecordType] = {
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

_COLUMN_ALIASES: dict[str, str] = {
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
_REQUIRED: dict[RecordType, tuple[str, ...]] = {
    RecordType.region: ("code", "name"),
    RecordType.line: ("code", "name"),
    RecordType.hall: ("code", "name", "region"),
    RecordType.org: ("code", "name", "region"),
    RecordType.item: ("code", "name", "org", "kind", "handling"),
    RecordType.window: ("code", "name", "hall", "org"),
    RecordType.staff: ("code", "name", "org"),
}

_LEVEL_ALIASES: dict[str, RegionLevel] = {
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
_LEVEL_RANK: dict[RegionLevel, int] = {lv: i for i, lv in enumerate(RegionLevel)}
# Digits of a code that identify a region of that level: a child's code starts with them.
_SIGNIFICANT_DIGITS: dict[RegionLevel, int] = {
    RegionLevel.province: 2,
    RegionLevel.city: 4,
    RegionLevel.county: 6,
    RegionLevel.township: 9,
    RegionLevel.village: 12,
}
_KIND_ALIASES: dict[str, ItemKind] = {
    **{k.value: k for k in ItemKind},
    "即办": ItemKind.immediate,
    "即办件": ItemKind.immediate,
    "承诺": ItemKind.promised,
    "承诺件": ItemKind.promised,
}
_HANDLING_ALIASES: dict[str, Handling] = {
    **{h.value: h for h in Handling},
    "网办": Handling.online,
    "网上办理": Handling.online,
    "窗口": Handling.window,
    "窗口办理": Handling.window,
    "自助": Handling.terminal,
    "自助终端": Handling.terminal,
}
_HANDLING_SEPARATORS = ("，", "、", ";", "；", "|", " ")

# Used until haochaping.policy.loader.available_profiles() is wired in (see known_profiles).
_BUILTIN_PROFILES = frozenset({"national", "guangxi", "guangdong", "hubei", "zaozhuang", "rongan"})

_CHUNK = 500
_PROGRESS_STEP = 1000


def known_profiles() -> frozenset[str]:
    """Names a region's ``profile`` may take (P1)."""
    return _BUILTIN_PROFILES


# --------------------------------------------------------------------------- results and errors


@dataclass
class TypeCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import did, per record type (all types present, in load order)."""

    rows: int = 0
    counts: dict[RecordType, TypeCounts] = field(
        default_factory=lambda: {t: TypeCounts() for t in RecordType}
    )

    @property
    def inserted(self) -> int:
        return sum(c.inserted for c in self.counts.values())

    @property
    def updated(self) -> int:
        return sum(c.updated for c in self.counts.values())


@dataclass(frozen=True)
class _Sheet:
    index: int
    name: str | None  # None for CSV
    display: Mapping[str, str]  # canonical column -> header as written


@dataclass
class _Row:
    """One data row, validated in place: parsed values and whether it is still usable."""

    type: RecordType
    sheet: _Sheet
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


class _Errors:
    def __init__(self) -> None:
        self._items: list[tuple[int, int, int, dict[str, Any]]] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, sheet: _Sheet, number: int, column: str | None, message: str) -> None:
        shown = sheet.display.get(column, column) if column else None
        order = COLUMNS.index(column) if column in COLUMNS else -1
        detail = {"row": number, "sheet": sheet.name, "column": shown, "message": message}
        self._items.append((sheet.index, number, order, detail))

    def on(self, row: _Row, column: str | None, message: str) -> None:
        self.add(row.sheet, row.number, column, message)

    def sorted(self) -> list[dict[str, Any]]:
        return [item[3] for item in sorted(self._items, key=lambda i: i[:3])]


# --------------------------------------------------------------------------- reading


def _cell_text(value: object) -> str:
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
    errors: _Errors,
    out: list[_Row],
) -> None:
    """Turn one table (header in row 1) into rows; a sheet named by a type fixes their type."""
    sheet_type = _TYPE_ALIASES.get((sheet_name or "").strip().lower()) if sheet_name else None
    iterator = iter(rows)
    header = next(iterator, None)
    if header is None:
        return
    columns: list[str | None] = []
    display: dict[str, str] = {}
    probe = _Sheet(sheet_index, sheet_name, display)
    for cell in header:
        text = _cell_text(cell)
        canonical = _COLUMN_ALIASES.get(text.lower()) if text else None
        if text and canonical is None:
            errors.add(probe, 1, None, f"无法识别的列名“{text}”")
        elif canonical is not None and canonical in display:
            errors.add(probe, 1, None, f"列“{text}”与列“{display[canonical]}”重复")
            canonical = None
        elif canonical is not None:
            display[canonical] = text
        columns.append(canonical)
    if not any(columns) and all(not _cell_text(c) for c in header):
        if any(any(_cell_text(c) for c in r) for r in iterator):
            errors.add(probe, 1, None, "第 1 行应为表头")
        return
    if sheet_type is None and "type" not in display:
        where = f"工作表“{sheet_name}”" if sheet_name else "文件"
        errors.add(probe, 1, None, f"{where}缺少“type”（类型）列，且不以类型命名")
        return
    sheet = _Sheet(sheet_index, sheet_name, display)
    for number, raw in enumerate(iterator, start=2):
        values = {
            col: _cell_text(raw[i])
            for i, col in enumerate(columns)
            if col is not None and i < len(raw) and _cell_text(raw[i])
        }
        if not values:
            continue
        written = values.get("type")
        row_type = _TYPE_ALIASES.get(written.lower()) if written else sheet_type
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
        out.append(_Row(row_type, sheet, number, values))


def _read_file(path: Path, errors: _Errors) -> list[_Row]:
    suffix = path.suffix.lower()
    out: list[_Row] = []
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


# --------------------------------------------------------------------------- field checks


_MODELS: dict[RecordType, type[Any]] = {
    RecordType.region: Region,
    RecordType.line: BusinessLine,
    RecordType.hall: Hall,
    RecordType.org: Organization,
    RecordType.item: ServiceItem,
    RecordType.window: Window,
    RecordType.staff: Staff,
}


def level_of_code(code: str) -> RegionLevel | None:
    """The level a GB/T 2260 code (12 digits below county) has by its shape; None if malformed."""
    if not code.isascii() or not code.isdigit():
        return None
    if len(code) == 6:
        if code[:2] == "00":
            return None
        if code[2:] == "0000":
            return RegionLevel.province
        if code[4:] == "00":
            return None if code[2:4] == "00" else RegionLevel.city
        return RegionLevel.county
    if len(code) == 12 and code[6:9] != "000" and code[:2] != "00":
        return RegionLevel.township if code[9:] == "000" else RegionLevel.village
    return None


def _check_fields(row: _Row, errors: _Errors) -> None:
    """Checks that need nothing but the row itself."""
    for column in _REQUIRED[row.type]:
        if not row.get(column):
            errors.on(row, column, "必填项为空")
    table = _MODELS[row.type].__table__
    for column in ("code", "name"):
        column_type = table.c[column].type
        limit = column_type.length if isinstance(column_type, String) else None
        value = row.values.get(column, "")
        if limit is not None and len(value) > limit:
            errors.on(row, column, f"长度 {len(value)} 超过上限 {limit} 个字符")
    if row.type is RecordType.region:
        _check_region_fields(row, errors)
    elif row.type is RecordType.item:
        _check_item_fields(row, errors)


def _check_region_fields(row: _Row, errors: _Errors) -> None:
    code = row.code
    shape = level_of_code(code) if code else None
    if code and shape is None:
        errors.on(
            row,
            "code",
            f"行政区划编码“{code}”无效：应为 6 位（GB/T 2260）或 12 位（乡镇、村扩展）数字",
        )
    written = row.get("level")
    if written:
        level = _LEVEL_ALIASES.get(written.lower())
        if level is None:
            errors.on(row, "level", f"未知的级别“{written}”：应为 province/city/county/"
                      "township/village（省/市/县/乡镇/村）")
        elif shape is not None and level is not shape:
            errors.on(
                row,
                "level",
                f"级别“{written}”与编码 {code} 不符：按编码应为{LEVEL_LABELS[shape]}",
            )
        row.level = level
    else:
        row.level = shape
    profile = row.get("profile")
    if profile and profile not in known_profiles():
        names = "、".join(sorted(known_profiles()))
        errors.on(row, "profile", f"未知的政策配置“{profile}”，可选：{names}")


def _check_item_fields(row: _Row, errors: _Errors) -> None:
    written_kind = row.get("kind")
    if written_kind:
        row.kind = _KIND_ALIASES.get(written_kind.lower())
        if row.kind is None:
            errors.on(row, "kind", f"未知的办件类型“{written_kind}”：应为 immediate（即办）"
                      "或 promised（承诺）")
    written_handling = row.get("handling")
    if written_handling:
        text = written_handling
        for separator in _HANDLING_SEPARATORS:
            text = text.replace(separator, ",")
        parts = [p.strip() for p in text.split(",") if p.strip()]
        unknown = [p for p in parts if p.lower() not in _HANDLING_ALIASES]
        if unknown:
            errors.on(row, "handling", f"未知的办理方式“{'、'.join(unknown)}”：应为 online、"
                      "window、terminal（网办、窗口、自助）中的一项或几项")
        chosen = {_HANDLING_ALIASES[p.lower()] for p in parts if p.lower() in _HANDLING_ALIASES}
        row.handling = ",".join(h.value for h in Handling if h in chosen)
    days = row.get("promised_days")
    if days is not None:
        if not days.isascii() or not days.isdigit():
            errors.on(row, "promised_days", f"承诺时限“{days}”应为非负整数（天）")
            return
        row.promised_days = int(days)
    if row.kind is ItemKind.promised and row.promised_days <= 0:
        errors.on(row, "promised_days", "承诺件的承诺时限必须大于 0 天")


# --------------------------------------------------------------------------- database lookups

_M = TypeVar("_M", bound=Base)


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) >= _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _fetch(session: Session, model: type[_M], key: Any, values: Iterable[Any]) -> dict[Any, _M]:
    """Rows of ``model`` whose ``key`` is in ``values``, a few hundred per query."""
    found: dict[Any, _M] = {}
    for batch in _chunks(sorted(set(values))):
        for obj in session.scalars(select(model).where(key.in_(batch))):
            found[getattr(obj, key.key)] = obj
    return found


class _Catalogue:
    """The file's rows and the database rows they touch or reference, by code."""

    def __init__(self, session: Session, rows: list[_Row]) -> None:
        self.session = session
        self.file: dict[RecordType, dict[str, _Row]] = {t: {} for t in RecordType}
        self.db_regions: dict[str, Region] = {}
        self.db_lines: dict[str, BusinessLine] = {}
        self.db_halls: dict[str, Hall] = {}
        self.db_orgs: dict[str, Organization] = {}
        self.db_items: dict[str, ServiceItem] = {}
        self.db_windows: dict[str, Window] = {}
        self.db_staff: dict[str, Staff] = {}
        self.org_code_by_id: dict[int, str] = {}
        self.hall_code_by_id: dict[int, str] = {}
        self.rows = rows

    def load(self) -> None:
        rows = self.rows

        def codes(kind: RecordType, column: str = "code") -> set[str]:
            return {v for r in rows if r.type is kind and (v := r.get(column))}

        s = self.session
        self.db_regions = _fetch(
            s,
            Region,
            Region.code,
            codes(RecordType.region)
            | codes(RecordType.region, "parent")
            | codes(RecordType.hall, "region")
            | codes(RecordType.org, "region"),
        )
        self.db_lines = _fetch(
            s, BusinessLine, BusinessLine.code, codes(RecordType.line) | codes(RecordType.org, "line")
        )
        self.db_halls = _fetch(
            s,
            Hall,
            Hall.code,
            codes(RecordType.hall) | codes(RecordType.hall, "parent") | codes(RecordType.window, "hall"),
        )
        self._load_hall_ancestors()
        self.db_items = _fetch(s, ServiceItem, ServiceItem.code, codes(RecordType.item))
        self.db_windows = _fetch(
            s, Window, Window.code, codes(RecordType.window) | codes(RecordType.staff, "window")
        )
        self.db_staff = _fetch(s, Staff, Staff.code, codes(RecordType.staff))
        self.db_orgs = _fetch(
            s,
            Organization,
            Organization.code,
            codes(RecordType.org)
            | codes(RecordType.item, "org")
            | codes(RecordType.window, "org")
            | codes(RecordType.staff, "org"),
        )
        known_ids = {o.id for o in self.db_orgs.values()}
        wanted = {w.org_id for w in self.db_windows.values()} - known_ids
        extra = _fetch(s, Organization, Organization.id, wanted)
        self.org_code_by_id = {o.id: o.code for o in [*self.db_orgs.values(), *extra.values()]}

    def _load_hall_ancestors(self) -> None:
        """Database halls up the parent chains, to catch cycles and check regions."""
        by_id = {h.id: h for h in self.db_halls.values()}
        pending = {h.parent_id for h in by_id.values() if h.parent_id is not None} - set(by_id)
        while pending:
            found = _fetch(self.session, Hall, Hall.id, pending)
            by_id.update(found)
            pending = {h.parent_id for h in found.values() if h.parent_id is not None} - set(by_id)
        self.hall_code_by_id = {i: h.code for i, h in by_id.items()}
        self.db_halls.update({h.code: h for h in by_id.values()})
        missing_regions = {h.region_code for h in by_id.values()} - set(self.db_regions)
        self.db_regions.update(_fetch(self.session, Region, Region.code, missing_regions))

    # The state after the import: the file's value where the file has the row, else the database.

    def exists(self, kind: RecordType, code: str) -> bool:
        if code in self.file[kind]:
            return True
        db: Mapping[str, object] = {
            RecordType.region: self.db_regions,
            RecordType.line: self.db_lines,
            RecordType.hall: self.db_halls,
            RecordType.org: self.db_orgs,
            RecordType.item: self.db_items,
            RecordType.window: self.db_windows,
            RecordType.staff: self.db_staff,
        }[kind]
        return code in db

    def region_level(self, code: str) -> RegionLevel | None:
        row = self.file[RecordType.region].get(code)
        if row is not None:
            return row.level
        region = self.db_regions.get(code)
        return RegionLevel(region.level) if region is not None else None

    def region_path(self, code: str) -> str | None:
        row = self.file[RecordType.region].get(code)
        if row is not None:
            return row.path
        region = self.db_regions.get(code)
        return region.path if region is not None else None

    def hall_parent(self, code: str) -> str | None:
        row = self.file[RecordType.hall].get(code)
        if row is not None:
            return row.get("parent")
        hall = self.db_halls.get(code)
        if hall is None or hall.parent_id is None:
            return None
        return self.hall_code_by_id.get(hall.parent_id)

    def hall_region(self, code: str) -> str | None:
        row = self.file[RecordType.hall].get(code)
        if row is not None:
            return row.get("region")
        hall = self.db_halls.get(code)
        return hall.region_code if hall is not None else None

    def window_org(self, code: str) -> str | None:
        row = self.file[RecordType.window].get(code)
        if row is not None:
            return row.get("org")
        window = self.db_windows.get(code)
        return self.org_code_by_id.get(window.org_id) if window is not None else None


