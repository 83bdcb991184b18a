"""Paper evaluation forms (ZZ, D2; C8): printed per window, typed in by staff afterwards.

A paper form is an independent rating of one occasion; it goes through
``evaluations.service.submit`` like every other channel, so the same rules refuse it: the
labels of the level from the profile's catalogue (B4), a reason for a bad review (B6), one
rating per occasion (C1) and the time limit (C8: a form typed in later than the supplementary
window, ZZ 5 working days of the handling day, is refused with ``supplementary_window_closed``).
An import stores every good row and reports every bad one with its row number and reason
(each row in its own savepoint): one bad form never holds up the others.

D5 has no code for paper; a form filled in at the hall is recorded as code 5 (其他大厅终端,
an on-site channel), and the ``paper_forms`` row says it came from paper.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.cases import service as cases
from haochaping.cases.models import Case
from haochaping.catalog.models import Hall, Organization, Staff, Window
from haochaping.channels.paper_models import PaperForm
from haochaping.clock import local_date
from haochaping.errors import DomainError, InvalidInput, NotFound
from haochaping.evaluations import service as evaluations
from haochaping.evaluations.models import Channel
from haochaping.evaluations.schemas import EvaluationIn, EvaluationOut
from haochaping.policy import service as policy
from haochaping.policy.schemas import Label, Profile

PAPER_CHANNEL = Channel.hall_terminal
COLUMNS = ("case_no", "stage", "level", "labels", "text", "filled_on")
# Chinese headings staff may use instead of the column names.
HEADINGS = {
    "办件编号": "case_no",
    "办件号": "case_no",
    "环节": "stage",
    "评价环节": "stage",
    "评价等级": "level",
    "等级": "level",
    "评价内容": "labels",
    "标签": "labels",
    "意见": "text",
    "意见建议": "text",
    "填写日期": "filled_on",
    "日期": "filled_on",
}
STAGES = {
    "受理": "accept",
    "审批": "approve",
    "出件": "deliver",
    "办结": "complete",
    "整体": "overall",
}
_SPLIT = re.compile(r"[,，、;；\n]+")
MAX_ROWS = 10_000


@dataclass(frozen=True)
class PaperEntry:
    """What one filled-in form says."""

    case_no: str
    level: int
    filled_on: date
    stage: str | None = None
    labels: tuple[str, ...] = ()
    text: str | None = None


@dataclass(frozen=True)
class RowError:
    row: int
    case_no: str
    code: str
    message: str


@dataclass
class ImportResult:
    stored: list[tuple[int, str, int]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


# --- the printable form ----------------------------------------------------------------------


@dataclass(frozen=True)
class FormSheet:
    """What the printed form of a window shows."""

    window_code: str
    window_name: str
    hall_name: str
    org_name: str
    levels: list[tuple[int, str, bool]]
    bad_labels: list[Label]
    profile: Profile


def form_sheet(*, session: Session, window_code: str, scope: Scope) -> FormSheet:
    """The form of one window: its levels and the labels of the bad levels (B4, B6)."""
    row = session.execute(
        select(Window.code, Window.name, Hall.name, Organization.name, Hall.region_code)
        .join(Hall, Hall.id == Window.hall_id)
        .join(Organization, Organization.id == Window.org_id)
        .where(Window.code == window_code, _window_scope(scope))
    ).first()
    if row is None:
        raise NotFound("window_not_found", f"未找到编码为“{window_code}”的窗口")
    code, name, hall_name, org_name, region_code = row
    profile = policy.profile_for_region(session=session, region_code=region_code)
    bad = {label.code: label for n in profile.bad_levels for label in profile.labels.for_level(n)}
    return FormSheet(
        window_code=code,
        window_name=name,
        hall_name=hall_name,
        org_name=org_name,
        levels=[(n, profile.levels[n].name, profile.is_bad(n)) for n in (5, 4, 3, 2, 1)],
        bad_labels=list(bad.values()),
        profile=profile,
    )


def _window_scope(scope: Scope) -> ColumnElement[bool]:
    if scope.everything:
        return Window.id.is_not(None)
    conds: list[ColumnElement[bool]] = []
    if scope.org_ids:
        conds.append(Window.org_id.in_(sorted(scope.org_ids)))
    if scope.region_paths:
        conds.append(Hall.region_code.in_(scope.region_codes()))
    if scope.staff_ids:
        conds.append(
            Window.id.in_(select(Staff.window_id).where(Staff.id.in_(sorted(scope.staff_ids))))
        )
    return or_(*conds) if conds else false()


def windows_in_scope(*, session: Session, scope: Scope) -> list[tuple[str, str, str]]:
    """(code, name, hall) of the windows whose forms the caller may print and type in."""
    rows = session.execute(
        select(Window.code, Window.name, Hall.name)
        .join(Hall, Hall.id == Window.hall_id)
        .where(_window_scope(scope))
        .order_by(Hall.name, Window.code)
    ).all()
    return [(c, n, h) for c, n, h in rows]


# --- one form --------------------------------------------------------------------------------


def label_codes(profile: Profile, level: int, written: Iterable[str]) -> list[str]:
    """The catalogue codes of the labels a form shows ticked, written by code or by name;
    one the level does not have is ``label_invalid`` (B4)."""
    allowed = profile.labels.for_level(level)
    by_code = {label.code: label.code for label in allowed}
    by_name = {label.name: label.code for label in allowed}
    codes, unknown = [], []
    for raw in written:
        token = raw.strip()
        if not token:
            continue
        code = by_code.get(token) or by_name.get(token)
        if code is None:
            unknown.append(token)
        else:
            codes.append(code)
    if unknown:
        name = profile.levels[level].name if level in profile.levels else str(level)
        raise InvalidInput(
            "label_invalid",
            f"评价内容“{'、'.join(unknown)}”不适用于评价等级“{name}”",
            details={"labels": unknown, "level": level, "catalogue": profile.labels.version},
        )
    return codes


def enter_form(
    *,
    session: Session,
    entry: PaperEntry,
    now: datetime,
    scope: Scope,
    entered_by: str,
    source: str,
) -> EvaluationOut:
    """Store one paper form as the evaluation of its occasion (B4, B6, C1, C8) and record
    where it came from. The case must be inside ``scope``; flushes, never commits."""
    occasion = cases.find_occasion(
        session=session, case_no=entry.case_no, stage=entry.stage, scope=scope
    )
    if entry.filled_on > local_date(now):
        raise InvalidInput(
            "paper_filled_on_future",
            f"填写日期{entry.filled_on:%Y年%m月%d日}晚于今天，请核对评价表上的日期",
        )
    if entry.filled_on < local_date(occasion.opens_at):
        raise InvalidInput(
            "paper_filled_before_service",
            f"填写日期{entry.filled_on:%Y年%m月%d日}早于办理日期"
            f"{local_date(occasion.opens_at):%Y年%m月%d日}，请核对评价表上的日期",
        )
    profile = policy.get_profile(name=occasion.profile_name)
    codes = label_codes(profile, entry.level, entry.labels)
    try:
        data = EvaluationIn(
            occasion_id=occasion.id,
            level=entry.level,
            label_codes=codes,
            text=(entry.text or "").strip() or None,
            channel=PAPER_CHANNEL,
        )
    except ValidationError as exc:
        raise InvalidInput(
            "paper_text_invalid", "意见最多1000字，且不能含控制字符，请核对后重新录入"
        ) from exc
    out = evaluations.submit(session=session, data=data, now=now, scope=Scope.all())
    window_id = session.scalar(select(Case.window_id).where(Case.id == occasion.case_id))
    session.add(
        PaperForm(
            evaluation_id=out.id,
            case_no=entry.case_no,
            window_id=window_id,
            filled_on=entry.filled_on,
            source=source,
            entered_by=entered_by[:120],
            entered_at=now,
        )
    )
    session.flush()
    return out


# --- parsing what staff typed or imported ----------------------------------------------------


def parse_level(value: str, profile: Profile | None = None) -> int:
    text = value.strip()
    if text in ("1", "2", "3", "4", "5"):
        return int(text)
    names = {"非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1}
    if profile is not None:
        names.update({spec.name: n for n, spec in profile.levels.items()})
    if text in names:
        return names[text]
    raise InvalidInput("level_invalid", "评价等级应为1至5（5为非常满意，1为非常不满意）")


def parse_date(value: str) -> date:
    text = value.strip()
    for pattern in ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d"):
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    raise InvalidInput("filled_on_invalid", "填写日期格式不正确，应为“2026-11-23”")


def parse_stage(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if text in STAGES.values():
        return text
    if text in STAGES:
        return STAGES[text]
    raise InvalidInput("stage_invalid", "评价环节应为受理、审批、出件、办结或整体（可不填）")


def entry_of(values: dict[str, str]) -> PaperEntry:
    """A form from the cells (or fields) of one row; a missing or malformed value is refused
    with its own code."""
    case_no = values.get("case_no", "").strip()
    if not case_no:
        raise InvalidInput("case_no_required", "缺少办件编号")
    if len(case_no) > 64 or not case_no.isprintable():
        raise NotFound("case_not_found", "未找到该办件", details={"case_no": case_no[:64]})
    if not values.get("level", "").strip():
        raise InvalidInput("level_required", "缺少评价等级")
    if not values.get("filled_on", "").strip():
        raise InvalidInput("filled_on_required", "缺少填写日期")
    return PaperEntry(
        case_no=case_no,
        stage=parse_stage(values.get("stage", "")),
        level=parse_level(values.get("level", "")),
        labels=tuple(t for t in _SPLIT.split(values.get("labels", "")) if t.strip()),
        text=values.get("text", "").strip() or None,
        filled_on=parse_date(values.get("filled_on", "")),
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _rows_of(table: Iterator[Iterable[Any]]) -> list[tuple[int, dict[str, str]]]:
    header = next(table, None)
    if header is None:
        raise InvalidInput("paper_file_empty", "文件是空的，第 1 行应为表头")
    columns: list[str | None] = []
    for cell in header:
        name = _cell(cell)
        key = HEADINGS.get(name, name.lower())
        columns.append(key if key in COLUMNS else None)
    missing = [c for c in ("case_no", "level", "filled_on") if c not in columns]
    if missing:
        raise InvalidInput(
            "paper_file_columns",
            f"表头缺少列：{'、'.join(missing)}"
            "（应有 case_no、stage、level、labels、text、filled_on）",
            details={"missing": missing},
        )
    out = []
    for number, raw in enumerate(table, start=2):
        values = {
            col: _cell(cell)
            for col, cell in zip(columns, raw, strict=False)
            if col is not None and _cell(cell)
        }
        if values:
            out.append((number, values))
        if len(out) > MAX_ROWS:
            raise InvalidInput("paper_file_too_large", f"一个文件最多{MAX_ROWS}行，请分批导入")
    return out


def read_file(path: Path) -> list[tuple[int, dict[str, str]]]:
    """The non-blank data rows of a .csv (UTF-8) or .xlsx file with their row numbers."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(encoding="utf-8-sig", newline="") as fh:
                return _rows_of(iter(csv.reader(fh)))
        if suffix == ".xlsx":
            from openpyxl import load_workbook

            workbook = load_workbook(path, read_only=True, data_only=True)
            try:
                return _rows_of(iter(workbook.worksheets[0].iter_rows(values_only=True)))
            finally:
                workbook.close()
    except UnicodeDecodeError as exc:
        message = "CSV 文件必须是 UTF-8 编码（Excel 另存为时请选择“CSV UTF-8”）"
        raise InvalidInput("paper_file_unreadable", message) from exc
    except (OSError, zipfile.BadZipFile, KeyError, IndexError, csv.Error) as exc:
        raise InvalidInput("paper_file_unreadable", f"无法读取文件 {path.name}：{exc}") from exc
    raise InvalidInput("paper_file_unsupported", "纸质评价表导入只支持 .csv 和 .xlsx 格式")


def import_rows(
    *,
    session: Session,
    rows: list[tuple[int, dict[str, str]]],
    now: datetime,
    scope: Scope,
    entered_by: str,
    progress: Callable[[], None] | None = None,
) -> ImportResult:
    """Store every good row (each in its own savepoint) and report every bad one with its
    row number, code and reason. Flushes; the caller commits."""
    result = ImportResult()
    for number, values in rows:
        case_no = values.get("case_no", "")
        try:
            with session.begin_nested():
                entry = entry_of(values)
                out = enter_form(
                    session=session,
                    entry=entry,
                    now=now,
                    scope=scope,
                    entered_by=entered_by,
                    source="import",
                )
            result.stored.append((number, case_no, out.id))
        except DomainError as exc:
            result.errors.append(RowError(number, case_no, exc.code, exc.message))
        if progress is not None:
            progress()
    return result
