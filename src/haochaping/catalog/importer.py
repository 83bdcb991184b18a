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
from haochaping.policy import service as policy

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

_CHUNK = 500
_PROGRESS_STEP = 1000


def known_profiles() -> frozenset[str]:
    """Names a region's ``profile`` may take: the policy profile files found (P1)."""
    return frozenset(policy.profile_names())


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
    """One data row: its raw values by canonical column, and what validation parsed from them."""

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
    problems: list[str] = []
    for cell in header:
        text = _cell_text(cell)
        canonical = _COLUMN_ALIASES.get(text.lower()) if text else None
        if text and canonical is None:
            problems.append(f"无法识别的列名“{text}”")
        elif canonical is not None and canonical in display:
            problems.append(f"列“{text}”与列“{display[canonical]}”重复")
            canonical = None
        elif canonical is not None:
            display[canonical] = text
        columns.append(canonical)
    probe = _Sheet(sheet_index, sheet_name, display)
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
    sheet = _Sheet(sheet_index, sheet_name, display)
    for number, raw in enumerate(iterator, start=2):
        values: dict[str, str] = {}
        for col, cell in zip(columns, raw, strict=False):
            if col is not None and (text := _cell_text(cell)):
                values[col] = text
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


def _length_limit(kind: RecordType, column: str) -> int | None:
    column_type = _MODELS[kind].__table__.c[column].type
    return column_type.length if isinstance(column_type, String) else None


# The longest code and name each table takes, read from the models.
_LIMITS = {(k, c): _length_limit(k, c) for k in RecordType for c in ("code", "name")}


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


def _check_fields(row: _Row, errors: _Errors, profiles: frozenset[str]) -> None:
    """Checks that need nothing but the row itself."""
    for column in _REQUIRED[row.type]:
        if not row.get(column):
            errors.on(row, column, "必填项为空")
    for column in ("code", "name"):
        limit = _LIMITS[row.type, column]
        value = row.values.get(column, "")
        if limit is not None and len(value) > limit:
            errors.on(row, column, f"长度 {len(value)} 超过上限 {limit} 个字符")
    if row.type is RecordType.region:
        _check_region_fields(row, errors, profiles)
    elif row.type is RecordType.item:
        _check_item_fields(row, errors)


def _check_region_fields(row: _Row, errors: _Errors, profiles: frozenset[str]) -> None:
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
            errors.on(
                row,
                "level",
                f"未知的级别“{written}”：应为 province/city/county/"
                "township/village（省/市/县/乡镇/村）",
            )
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
    if profile and profile not in profiles:
        names = "、".join(sorted(profiles))
        errors.on(row, "profile", f"未知的政策配置“{profile}”，可选：{names}")


def _check_item_fields(row: _Row, errors: _Errors) -> None:
    written_kind = row.get("kind")
    if written_kind:
        row.kind = _KIND_ALIASES.get(written_kind.lower())
        if row.kind is None:
            errors.on(
                row,
                "kind",
                f"未知的办件类型“{written_kind}”：应为 immediate（即办）或 promised（承诺）",
            )
    written_handling = row.get("handling")
    if written_handling:
        text = written_handling
        for separator in _HANDLING_SEPARATORS:
            text = text.replace(separator, ",")
        parts = [p.strip() for p in text.split(",") if p.strip()]
        unknown = [p for p in parts if p.lower() not in _HANDLING_ALIASES]
        if unknown:
            errors.on(
                row,
                "handling",
                f"未知的办理方式“{'、'.join(unknown)}”：应为 online、"
                "window、terminal（网办、窗口、自助）中的一项或几项",
            )
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
            s,
            BusinessLine,
            BusinessLine.code,
            codes(RecordType.line) | codes(RecordType.org, "line"),
        )
        self.db_halls = _fetch(
            s,
            Hall,
            Hall.code,
            codes(RecordType.hall)
            | codes(RecordType.hall, "parent")
            | codes(RecordType.window, "hall"),
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
        tables: dict[RecordType, Mapping[str, Base]] = {
            RecordType.region: self.db_regions,
            RecordType.line: self.db_lines,
            RecordType.hall: self.db_halls,
            RecordType.org: self.db_orgs,
            RecordType.item: self.db_items,
            RecordType.window: self.db_windows,
            RecordType.staff: self.db_staff,
        }
        return code in tables[kind]

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


# --------------------------------------------------------------------------- cross-row checks

_REFERENCES: tuple[tuple[RecordType, str, RecordType, str], ...] = (
    (RecordType.region, "parent", RecordType.region, "上级行政区划"),
    (RecordType.hall, "region", RecordType.region, "行政区划"),
    (RecordType.hall, "parent", RecordType.hall, "上级大厅"),
    (RecordType.org, "region", RecordType.region, "行政区划"),
    (RecordType.org, "line", RecordType.line, "业务条线"),
    (RecordType.item, "org", RecordType.org, "机构"),
    (RecordType.window, "hall", RecordType.hall, "大厅"),
    (RecordType.window, "org", RecordType.org, "机构"),
    (RecordType.staff, "org", RecordType.org, "机构"),
    (RecordType.staff, "window", RecordType.window, "窗口"),
)


def _check_references(cat: _Catalogue, errors: _Errors) -> None:
    for kind, column, target, label in _REFERENCES:
        for row in cat.file[kind].values():
            code = row.get(column)
            if code is None:
                continue
            if kind is target and code == row.code:
                errors.on(row, column, f"{label}不能是自己")
            elif not cat.exists(target, code):
                errors.on(row, column, f"{label}“{code}”不存在（本文件和数据库中都没有）")


def _check_regions(cat: _Catalogue, errors: _Errors) -> None:
    """Parent above child, child code under the parent's prefix; computes paths, parents first."""
    rows = sorted(
        (r for r in cat.file[RecordType.region].values() if r.level is not None),
        key=lambda r: _LEVEL_RANK[r.level] if r.level else 0,
    )
    for row in rows:
        assert row.level is not None
        parent = row.get("parent")
        if parent is None:
            row.path = f"/{row.code}/"
            continue
        parent_level = cat.region_level(parent)
        parent_path = cat.region_path(parent)
        if parent_level is None or parent_path is None or parent == row.code:
            continue
        if _LEVEL_RANK[parent_level] >= _LEVEL_RANK[row.level]:
            errors.on(
                row,
                "parent",
                f"上级行政区划 {parent} 是{LEVEL_LABELS[parent_level]}，"
                f"不高于本行的{LEVEL_LABELS[row.level]}",
            )
            continue
        prefix = parent[: _SIGNIFICANT_DIGITS[parent_level]]
        if not row.code.startswith(prefix):
            errors.on(
                row, "code", f"编码 {row.code} 不在上级行政区划 {parent} 之下（应以 {prefix} 开头）"
            )
            continue
        row.path = f"{parent_path}{row.code}/"


def _check_halls(cat: _Catalogue, errors: _Errors) -> None:
    """No cycle of parent halls; a sub-centre lies in its parent hall's region or below it."""
    for row in cat.file[RecordType.hall].values():
        parent = row.get("parent")
        if parent is None or parent == row.code or not cat.exists(RecordType.hall, parent):
            continue
        seen = {row.code}
        current: str | None = parent
        while current is not None and current not in seen:
            seen.add(current)
            current = cat.hall_parent(current)
        if current == row.code:
            errors.on(row, "parent", f"上级大厅 {parent} 形成循环：沿上级追溯又回到了 {row.code}")
            continue
        own_path = cat.region_path(row.get("region") or "")
        parent_region = cat.hall_region(parent)
        parent_path = cat.region_path(parent_region) if parent_region else None
        if own_path and parent_path and not own_path.startswith(parent_path):
            errors.on(
                row,
                "parent",
                f"上级大厅 {parent} 属于行政区划 {parent_region}，"
                f"本大厅的行政区划 {row.get('region')} 不在其辖区内",
            )


def _check_staff_windows(cat: _Catalogue, errors: _Errors) -> None:
    """After the import, every staff member's window belongs to the staff member's org."""
    for row in cat.file[RecordType.staff].values():
        window, org = row.get("window"), row.get("org")
        if window is None or org is None or not cat.exists(RecordType.org, org):
            continue
        window_org = cat.window_org(window)
        if window_org is not None and window_org != org:
            errors.on(
                row, "window", f"窗口 {window} 属于机构 {window_org}，与人员所属机构 {org} 不符"
            )
    # A window moved to another org must not keep database staff of the old org behind it.
    moved: dict[int, _Row] = {}
    for row in cat.file[RecordType.window].values():
        db_window = cat.db_windows.get(row.code)
        new_org = row.get("org")
        if (
            db_window is not None
            and new_org
            and cat.exists(RecordType.org, new_org)
            and cat.org_code_by_id.get(db_window.org_id) != new_org
        ):
            moved[db_window.id] = row
    if not moved:
        return
    left = [
        s
        for s in _fetch(cat.session, Staff, Staff.id, _staff_ids_at(cat.session, moved)).values()
        if s.code not in cat.file[RecordType.staff]
    ]
    orgs = _fetch(cat.session, Organization, Organization.id, {s.org_id for s in left})
    for staff in sorted(left, key=lambda s: s.code):
        assert staff.window_id is not None
        window_row = moved[staff.window_id]
        staff_org = orgs[staff.org_id].code
        if staff_org != window_row.get("org"):
            errors.on(
                window_row,
                "org",
                f"窗口改属机构 {window_row.get('org')} 后，数据库中的人员 {staff.code}"
                f"（属机构 {staff_org}）将与窗口机构不符；请在本文件中一并调整该人员",
            )


def _staff_ids_at(session: Session, window_ids: Iterable[int]) -> set[int]:
    ids: set[int] = set()
    for batch in _chunks(window_ids):
        ids.update(session.scalars(select(Staff.id).where(Staff.window_id.in_(batch))))
    return ids


def _validate(
    session: Session, rows: list[_Row], errors: _Errors, progress: Progress | None
) -> _Catalogue:
    total = 2 * len(rows)
    cat = _Catalogue(session, rows)
    profiles = known_profiles()
    for index, row in enumerate(rows, start=1):
        _check_fields(row, errors, profiles)
        code = row.code
        seen = cat.file[row.type].get(code) if code else None
        if seen is not None:
            where = f"工作表“{seen.sheet.name}”" if seen.sheet.name else ""
            label = TYPE_LABELS[row.type]
            errors.on(row, "code", f"{label}编码 {code} 重复（{where}第 {seen.number} 行已有）")
        elif code:
            cat.file[row.type][code] = row
        if progress is not None and index % _PROGRESS_STEP == 0:
            progress(index, total)
    cat.load()
    _check_references(cat, errors)
    _check_regions(cat, errors)
    _check_halls(cat, errors)
    _check_staff_windows(cat, errors)
    if progress is not None:
        progress(len(rows), total)
    return cat


# --------------------------------------------------------------------------- loading


def _assign(obj: Any, values: Mapping[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _parents_first(rows: Mapping[str, _Row]) -> list[list[_Row]]:
    """Halls grouped by depth within the file, so that a parent gets its id before its children."""
    depth: dict[str, int] = {}
    for code in rows:
        chain: list[str] = []
        current: str | None = code
        while current is not None and current in rows and current not in depth:
            chain.append(current)
            current = rows[current].get("parent")
        base = depth.get(current, -1) if current is not None else -1
        for offset, member in enumerate(reversed(chain), start=1):
            depth[member] = base + offset
    groups: list[list[_Row]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for code, row in rows.items():
        groups[depth[code]].append(row)
    return groups


def _repath(session: Session, old_paths: Iterable[str]) -> None:
    """Recompute the paths of every region that was under a region which changed its parent."""
    affected: dict[str, Region] = {}
    for batch in _chunks(old_paths):
        query = select(Region).where(or_(*(Region.path.startswith(p) for p in batch)))
        affected.update({r.code: r for r in session.scalars(query)})
    outside = {r.parent_code for r in affected.values() if r.parent_code not in affected}
    paths = {c: r.path for c, r in _fetch(session, Region, Region.code, outside - {None}).items()}
    for region in sorted(affected.values(), key=lambda r: _LEVEL_RANK[RegionLevel(r.level)]):
        base = paths[region.parent_code] if region.parent_code else "/"
        region.path = paths[region.code] = f"{base}{region.code}/"
    session.flush()


class _Loader:
    """Upserts the validated rows by code in dependency order; flushes, never commits."""

    def __init__(self, cat: _Catalogue, report: ImportReport, progress: Progress | None) -> None:
        self.cat = cat
        self.session = cat.session
        self.report = report
        self.progress = progress
        self.total = 2 * len(cat.rows)
        self.done = len(cat.rows)
        self.ids: dict[RecordType, dict[str, int]] = {
            RecordType.line: {c: o.id for c, o in cat.db_lines.items()},
            RecordType.hall: {c: o.id for c, o in cat.db_halls.items()},
            RecordType.org: {c: o.id for c, o in cat.db_orgs.items()},
            RecordType.window: {c: o.id for c, o in cat.db_windows.items()},
        }

    def _upsert(
        self,
        kind: RecordType,
        rows: Iterable[_Row],
        existing: Mapping[str, Any],
        values_of: Callable[[_Row], dict[str, Any]],
    ) -> None:
        """Insert the new rows in the given order and flush, then update the existing ones."""
        counts = self.report.counts[kind]
        model = _MODELS[kind]
        done: list[tuple[str, Any]] = []
        updates: list[tuple[_Row, Any]] = []
        for row in rows:
            current = existing.get(row.code)
            if current is None:
                obj = model(code=row.code, **values_of(row))
                self.session.add(obj)
                counts.inserted += 1
                done.append((row.code, obj))
            else:
                updates.append((row, current))
        self.session.flush()
        for row, obj in updates:
            if _assign(obj, values_of(row)):
                counts.updated += 1
            else:
                counts.unchanged += 1
            done.append((row.code, obj))
        self.session.flush()
        if kind in self.ids:
            self.ids[kind].update({code: obj.id for code, obj in done})
        self.done += len(done)
        if self.progress is not None and done:
            self.progress(self.done, self.total)

    def run(self) -> None:
        cat, file = self.cat, self.cat.file
        regions = file[RecordType.region]
        moved = [
            r.path
            for code, r in cat.db_regions.items()
            if code in regions and regions[code].path != r.path
        ]

        def region_values(r: _Row) -> dict[str, Any]:
            assert r.level is not None and r.path is not None
            return {
                "name": r.values["name"],
                "level": r.level.value,
                "parent_code": r.get("parent"),
                "path": r.path,
                "profile": r.get("profile"),
            }

        ordered = sorted(regions.values(), key=lambda r: r.path or "")
        self._upsert(RecordType.region, ordered, cat.db_regions, region_values)
        if moved:
            _repath(self.session, moved)
        self._upsert(RecordType.line, file[RecordType.line].values(), cat.db_lines, _name_only)
        line_ids, hall_ids = self.ids[RecordType.line], self.ids[RecordType.hall]
        org_ids, window_ids = self.ids[RecordType.org], self.ids[RecordType.window]

        def hall_values(r: _Row) -> dict[str, Any]:
            parent = r.get("parent")
            return {
                "name": r.values["name"],
                "region_code": r.values["region"],
                "parent_id": hall_ids[parent] if parent else None,
            }

        for group in _parents_first(file[RecordType.hall]):
            self._upsert(RecordType.hall, group, cat.db_halls, hall_values)

        def org_values(r: _Row) -> dict[str, Any]:
            line = r.get("line")
            return {
                "name": r.values["name"],
                "region_code": r.values["region"],
                "line_id": line_ids[line] if line else None,
            }

        self._upsert(RecordType.org, file[RecordType.org].values(), cat.db_orgs, org_values)

        def item_values(r: _Row) -> dict[str, Any]:
            assert r.kind is not None
            return {
                "name": r.values["name"],
                "org_id": org_ids[r.values["org"]],
                "kind": r.kind.value,
                "handling": r.handling,
                "promised_days": r.promised_days,
            }

        self._upsert(RecordType.item, file[RecordType.item].values(), cat.db_items, item_values)

        def window_values(r: _Row) -> dict[str, Any]:
            return {
                "name": r.values["name"],
                "hall_id": hall_ids[r.values["hall"]],
                "org_id": org_ids[r.values["org"]],
            }

        windows = file[RecordType.window].values()
        self._upsert(RecordType.window, windows, cat.db_windows, window_values)

        def staff_values(r: _Row) -> dict[str, Any]:
            window = r.get("window")
            return {
                "name": r.values["name"],
                "org_id": org_ids[r.values["org"]],
                "window_id": window_ids[window] if window else None,
            }

        self._upsert(RecordType.staff, file[RecordType.staff].values(), cat.db_staff, staff_values)


def _name_only(row: _Row) -> dict[str, Any]:
    return {"name": row.values["name"]}


# --------------------------------------------------------------------------- public API


def import_catalogue(
    *, session: Session, path: Path, progress: Progress | None = None
) -> ImportReport:
    """Validate the whole file, then upsert every record by code; flushes, never commits.

    ``progress(done, total)``: the first half of ``total`` is validation, the second loading.
    Raises ``InvalidInput("catalog_file_invalid")`` listing every row error; nothing is written.
    """
    errors = _Errors()
    rows = _read_file(path, errors)
    if not rows and not errors:
        raise InvalidInput("catalog_file_empty", f"目录文件 {path.name} 中没有任何数据行")
    cat = _validate(session, rows, errors, progress)
    if errors:
        raise InvalidInput(
            "catalog_file_invalid",
            f"目录文件有 {len(errors)} 处错误，未导入任何数据",
            details=errors.sorted(),
        )
    report = ImportReport(rows=len(rows))
    _Loader(cat, report, progress).run()
    return report
