"""Catalogue import (A2-A5): read a CSV / XLSX file, validate every row, then upsert by code.

Nothing is written unless the whole file is valid: every problem is collected and raised at once
as ``InvalidInput("catalog_file_invalid", details=[{row, sheet, column, message}, ...])``.
The format is described in ``docs/catalog.md``; reading it is in ``reading``, the checks in
``validation``, and loading the checked rows in dependency order here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from haochaping.catalog.models import Region, RegionLevel
from haochaping.catalog.reading import (
    COLUMNS,
    LEVEL_LABELS,
    LEVEL_RANK,
    TYPE_LABELS,
    RecordType,
    Row,
    read_file,
)
from haochaping.catalog.validation import (
    MODELS,
    Catalogue,
    Errors,
    Progress,
    chunks,
    fetch,
    known_profiles,
    level_of_code,
    validate,
)
from haochaping.errors import InvalidInput

# Names other modules and the tests import from here, where they lived before the split.
__all__ = [
    "COLUMNS",
    "LEVEL_LABELS",
    "TYPE_LABELS",
    "ImportReport",
    "Progress",
    "RecordType",
    "TypeCounts",
    "import_catalogue",
    "known_profiles",
    "level_of_code",
]


# --------------------------------------------------------------------------- results


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


# --------------------------------------------------------------------------- loading


def _assign(obj: Any, values: Mapping[str, Any]) -> bool:
    changed = False
    for key, value in values.items():
        if getattr(obj, key) != value:
            setattr(obj, key, value)
            changed = True
    return changed


def _parents_first(rows: Mapping[str, Row]) -> list[list[Row]]:
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
    groups: list[list[Row]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for code, row in rows.items():
        groups[depth[code]].append(row)
    return groups


def _repath(session: Session, old_paths: Iterable[str]) -> None:
    """Recompute the paths of every region that was under a region which changed its parent."""
    affected: dict[str, Region] = {}
    for batch in chunks(old_paths):
        query = select(Region).where(or_(*(Region.path.startswith(p) for p in batch)))
        affected.update({r.code: r for r in session.scalars(query)})
    outside = {r.parent_code for r in affected.values() if r.parent_code not in affected}
    paths = {c: r.path for c, r in fetch(session, Region, Region.code, outside - {None}).items()}
    for region in sorted(affected.values(), key=lambda r: LEVEL_RANK[RegionLevel(r.level)]):
        base = paths[region.parent_code] if region.parent_code else "/"
        region.path = paths[region.code] = f"{base}{region.code}/"
    session.flush()


class _Loader:
    """Upserts the validated rows by code in dependency order; flushes, never commits."""

    def __init__(self, cat: Catalogue, report: ImportReport, progress: Progress | None) -> None:
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
        rows: Iterable[Row],
        existing: Mapping[str, Any],
        values_of: Callable[[Row], dict[str, Any]],
    ) -> None:
        """Insert the new rows in the given order and flush, then update the existing ones."""
        counts = self.report.counts[kind]
        model = MODELS[kind]
        done: list[tuple[str, Any]] = []
        updates: list[tuple[Row, Any]] = []
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

        def region_values(r: Row) -> dict[str, Any]:
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

        def hall_values(r: Row) -> dict[str, Any]:
            parent = r.get("parent")
            return {
                "name": r.values["name"],
                "region_code": r.values["region"],
                "parent_id": hall_ids[parent] if parent else None,
            }

        for group in _parents_first(file[RecordType.hall]):
            self._upsert(RecordType.hall, group, cat.db_halls, hall_values)

        def org_values(r: Row) -> dict[str, Any]:
            line = r.get("line")
            return {
                "name": r.values["name"],
                "region_code": r.values["region"],
                "line_id": line_ids[line] if line else None,
            }

        self._upsert(RecordType.org, file[RecordType.org].values(), cat.db_orgs, org_values)

        def item_values(r: Row) -> dict[str, Any]:
            assert r.kind is not None
            return {
                "name": r.values["name"],
                "org_id": org_ids[r.values["org"]],
                "kind": r.kind.value,
                "handling": r.handling,
                "promised_days": r.promised_days,
            }

        self._upsert(RecordType.item, file[RecordType.item].values(), cat.db_items, item_values)

        def window_values(r: Row) -> dict[str, Any]:
            return {
                "name": r.values["name"],
                "hall_id": hall_ids[r.values["hall"]],
                "org_id": org_ids[r.values["org"]],
            }

        windows = file[RecordType.window].values()
        self._upsert(RecordType.window, windows, cat.db_windows, window_values)

        def staff_values(r: Row) -> dict[str, Any]:
            window = r.get("window")
            return {
                "name": r.values["name"],
                "org_id": org_ids[r.values["org"]],
                "window_id": window_ids[window] if window else None,
            }

        self._upsert(RecordType.staff, file[RecordType.staff].values(), cat.db_staff, staff_values)


def _name_only(row: Row) -> dict[str, Any]:
    return {"name": row.values["name"]}


# --------------------------------------------------------------------------- public API


def import_catalogue(
    *, session: Session, path: Path, progress: Progress | None = None
) -> ImportReport:
    """Validate the whole file, then upsert every record by code; flushes, never commits.

    ``progress(done, total)``: the first half of ``total`` is validation, the second loading.
    Raises ``InvalidInput("catalog_file_invalid")`` listing every row error; nothing is written.
    """
    errors = Errors()
    rows = read_file(path, errors)
    if not rows and not errors:
        raise InvalidInput("catalog_file_empty", f"目录文件 {path.name} 中没有任何数据行")
    cat = validate(session, rows, errors, progress)
    if errors:
        raise InvalidInput(
            "catalog_file_invalid",
            f"目录文件有 {len(errors)} 处错误，未导入任何数据",
            details=errors.sorted(),
        )
    report = ImportReport(rows=len(rows))
    _Loader(cat, report, progress).run()
    return report
