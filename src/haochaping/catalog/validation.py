"""Catalogue validation (A3-A5): every check a file's rows must pass before anything is written.

Field checks need only the row; the cross-row checks see the state after the import, the file's
rows over the database rows they touch or reference, which ``Catalogue`` looks up by code. Every
problem is collected in ``Errors``, in the order a person reads the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from sqlalchemy import String, select
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
from haochaping.catalog.reading import (
    COLUMNS,
    HANDLING_ALIASES,
    HANDLING_SEPARATORS,
    KIND_ALIASES,
    LEVEL_ALIASES,
    LEVEL_LABELS,
    LEVEL_RANK,
    REQUIRED,
    TYPE_LABELS,
    RecordType,
    Row,
    Sheet,
)
from haochaping.db import Base
from haochaping.policy import service as policy

Progress = Callable[[int, int], None]

# Digits of a code that identify a region of that level: a child's code starts with them.
_SIGNIFICANT_DIGITS: dict[RegionLevel, int] = {
    RegionLevel.province: 2,
    RegionLevel.city: 4,
    RegionLevel.county: 6,
    RegionLevel.township: 9,
    RegionLevel.village: 12,
}

_CHUNK = 500
_PROGRESS_STEP = 1000


def known_profiles() -> frozenset[str]:
    """Names a region's ``profile`` may take: the policy profile files found (P1)."""
    return frozenset(policy.profile_names())


# --------------------------------------------------------------------------- error collection


class Errors:
    """Every problem found in the file, listed by sheet, row and column."""

    def __init__(self) -> None:
        self._items: list[tuple[int, int, int, dict[str, Any]]] = []

    def __len__(self) -> int:
        return len(self._items)

    def add(self, sheet: Sheet, number: int, column: str | None, message: str) -> None:
        shown = sheet.display.get(column, column) if column else None
        order = COLUMNS.index(column) if column in COLUMNS else -1
        detail = {"row": number, "sheet": sheet.name, "column": shown, "message": message}
        self._items.append((sheet.index, number, order, detail))

    def on(self, row: Row, column: str | None, message: str) -> None:
        self.add(row.sheet, row.number, column, message)

    def sorted(self) -> list[dict[str, Any]]:
        return [item[3] for item in sorted(self._items, key=lambda i: i[:3])]


# --------------------------------------------------------------------------- field checks


MODELS: dict[RecordType, type[Any]] = {
    RecordType.region: Region,
    RecordType.line: BusinessLine,
    RecordType.hall: Hall,
    RecordType.org: Organization,
    RecordType.item: ServiceItem,
    RecordType.window: Window,
    RecordType.staff: Staff,
}


def _length_limit(kind: RecordType, column: str) -> int | None:
    column_type = MODELS[kind].__table__.c[column].type
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


def _check_fields(row: Row, errors: Errors, profiles: frozenset[str]) -> None:
    """Checks that need nothing but the row itself."""
    for column in REQUIRED[row.type]:
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


def _check_region_fields(row: Row, errors: Errors, profiles: frozenset[str]) -> None:
    code = row.code
    shape = level_of_code(code) if code else None
    if code and shape is None:
        message = f"行政区划编码“{code}”无效：应为 6 位（GB/T 2260）或 12 位（乡镇、村扩展）数字"
        errors.on(row, "code", message)
    written = row.get("level")
    if written:
        level = LEVEL_ALIASES.get(written.lower())
        if level is None:
            errors.on(
                row,
                "level",
                f"未知的级别“{written}”：应为 province/city/county/"
                "township/village（省/市/县/乡镇/村）",
            )
        elif shape is not None and level is not shape:
            message = f"级别“{written}”与编码 {code} 不符：按编码应为{LEVEL_LABELS[shape]}"
            errors.on(row, "level", message)
        row.level = level
    else:
        row.level = shape
    profile = row.get("profile")
    if profile and profile not in profiles:
        names = "、".join(sorted(profiles))
        errors.on(row, "profile", f"未知的政策配置“{profile}”，可选：{names}")


def _check_item_fields(row: Row, errors: Errors) -> None:
    written_kind = row.get("kind")
    if written_kind:
        row.kind = KIND_ALIASES.get(written_kind.lower())
        if row.kind is None:
            message = f"未知的办件类型“{written_kind}”：应为 immediate（即办）或 promised（承诺）"
            errors.on(row, "kind", message)
    written_handling = row.get("handling")
    if written_handling:
        text = written_handling
        for separator in HANDLING_SEPARATORS:
            text = text.replace(separator, ",")
        parts = [p.strip() for p in text.split(",") if p.strip()]
        unknown = [p for p in parts if p.lower() not in HANDLING_ALIASES]
        if unknown:
            errors.on(
                row,
                "handling",
                f"未知的办理方式“{'、'.join(unknown)}”：应为 online、"
                "window、terminal（网办、窗口、自助）中的一项或几项",
            )
        chosen = {HANDLING_ALIASES[p.lower()] for p in parts if p.lower() in HANDLING_ALIASES}
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


def chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for value in values:
        batch.append(value)
        if len(batch) >= _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def fetch(session: Session, model: type[_M], key: Any, values: Iterable[Any]) -> dict[Any, _M]:
    """Rows of ``model`` whose ``key`` is in ``values``, a few hundred per query."""
    found: dict[Any, _M] = {}
    for batch in chunks(sorted(set(values))):
        for obj in session.scalars(select(model).where(key.in_(batch))):
            found[getattr(obj, key.key)] = obj
    return found


class Catalogue:
    """The file's rows and the database rows they touch or reference, by code."""

    def __init__(self, session: Session, rows: list[Row]) -> None:
        self.session = session
        self.file: dict[RecordType, dict[str, Row]] = {t: {} for t in RecordType}
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

        s, t = self.session, RecordType
        regions = codes(t.region) | codes(t.region, "parent") | codes(t.hall, "region")
        self.db_regions = fetch(s, Region, Region.code, regions | codes(t.org, "region"))
        lines = codes(t.line) | codes(t.org, "line")
        self.db_lines = fetch(s, BusinessLine, BusinessLine.code, lines)
        halls = codes(t.hall) | codes(t.hall, "parent") | codes(t.window, "hall")
        self.db_halls = fetch(s, Hall, Hall.code, halls)
        self._load_hall_ancestors()
        self.db_items = fetch(s, ServiceItem, ServiceItem.code, codes(t.item))
        windows = codes(t.window) | codes(t.staff, "window")
        self.db_windows = fetch(s, Window, Window.code, windows)
        self.db_staff = fetch(s, Staff, Staff.code, codes(t.staff))
        orgs = codes(t.org) | codes(t.item, "org") | codes(t.window, "org") | codes(t.staff, "org")
        self.db_orgs = fetch(s, Organization, Organization.code, orgs)
        known_ids = {o.id for o in self.db_orgs.values()}
        wanted = {w.org_id for w in self.db_windows.values()} - known_ids
        extra = fetch(s, Organization, Organization.id, wanted)
        self.org_code_by_id = {o.id: o.code for o in [*self.db_orgs.values(), *extra.values()]}

    def _load_hall_ancestors(self) -> None:
        """Database halls up the parent chains, to catch cycles and check regions."""
        by_id = {h.id: h for h in self.db_halls.values()}
        pending = {h.parent_id for h in by_id.values() if h.parent_id is not None} - set(by_id)
        while pending:
            found = fetch(self.session, Hall, Hall.id, pending)
            by_id.update(found)
            pending = {h.parent_id for h in found.values() if h.parent_id is not None} - set(by_id)
        self.hall_code_by_id = {i: h.code for i, h in by_id.items()}
        self.db_halls.update({h.code: h for h in by_id.values()})
        missing_regions = {h.region_code for h in by_id.values()} - set(self.db_regions)
        self.db_regions.update(fetch(self.session, Region, Region.code, missing_regions))

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


def _check_references(cat: Catalogue, errors: Errors) -> None:
    for kind, column, target, label in _REFERENCES:
        for row in cat.file[kind].values():
            code = row.get(column)
            if code is None:
                continue
            if kind is target and code == row.code:
                errors.on(row, column, f"{label}不能是自己")
            elif not cat.exists(target, code):
                errors.on(row, column, f"{label}“{code}”不存在（本文件和数据库中都没有）")


def _check_regions(cat: Catalogue, errors: Errors) -> None:
    """Parent above child, child code under the parent's prefix; computes paths, parents first."""
    rows = sorted(
        (r for r in cat.file[RecordType.region].values() if r.level is not None),
        key=lambda r: LEVEL_RANK[r.level] if r.level else 0,
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
        if LEVEL_RANK[parent_level] >= LEVEL_RANK[row.level]:
            errors.on(
                row,
                "parent",
                f"上级行政区划 {parent} 是{LEVEL_LABELS[parent_level]}，"
                f"不高于本行的{LEVEL_LABELS[row.level]}",
            )
            continue
        prefix = parent[: _SIGNIFICANT_DIGITS[parent_level]]
        if not row.code.startswith(prefix):
            message = f"编码 {row.code} 不在上级行政区划 {parent} 之下（应以 {prefix} 开头）"
            errors.on(row, "code", message)
            continue
        row.path = f"{parent_path}{row.code}/"


def _check_halls(cat: Catalogue, errors: Errors) -> None:
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


def _check_staff_windows(cat: Catalogue, errors: Errors) -> None:
    """After the import, every staff member's window belongs to the staff member's org."""
    for row in cat.file[RecordType.staff].values():
        window, org = row.get("window"), row.get("org")
        if window is None or org is None or not cat.exists(RecordType.org, org):
            continue
        window_org = cat.window_org(window)
        if window_org is not None and window_org != org:
            message = f"窗口 {window} 属于机构 {window_org}，与人员所属机构 {org} 不符"
            errors.on(row, "window", message)
    # A window moved to another org must not keep database staff of the old org behind it.
    moved: dict[int, Row] = {}
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
        for s in fetch(cat.session, Staff, Staff.id, _staff_ids_at(cat.session, moved)).values()
        if s.code not in cat.file[RecordType.staff]
    ]
    orgs = fetch(cat.session, Organization, Organization.id, {s.org_id for s in left})
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
    for batch in chunks(window_ids):
        ids.update(session.scalars(select(Staff.id).where(Staff.window_id.in_(batch))))
    return ids


def validate(
    session: Session, rows: list[Row], errors: Errors, progress: Progress | None
) -> Catalogue:
    total = 2 * len(rows)
    cat = Catalogue(session, rows)
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
