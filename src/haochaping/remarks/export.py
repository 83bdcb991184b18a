"""Export of 综合点评 to xlsx, inside the caller's scope, contacts masked (C9)."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from openpyxl import Workbook
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.clock import BEIJING
from haochaping.remarks import reading
from haochaping.remarks.models import Remark
from haochaping.remarks.procedure import STATUS_NAMES
from haochaping.remarks.schemas import CATEGORY_NAMES, SOURCE_NAMES
from haochaping.textreview.service import suggest_redaction

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Rows in one export; narrow the filters beyond that.
MAX_ROWS = 100_000

COLUMNS = [
    "受理编号",
    "来源",
    "类别",
    "主题",
    "状态",
    "地区",
    "承办单位",
    "内容（已遮盖手机号码和身份证号码）",
    "留言人（已脱敏）",
    "联系电话（已脱敏）",
    "电子邮箱（已脱敏）",
    "收到时间（北京时间）",
    "答复期限（北京时间）",
    "是否逾期",
    "答复内容",
    "答复时间（北京时间）",
    "公开内容",
]


def _local(value: datetime | None) -> str:
    return value.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M") if value else ""


def filename(now: datetime) -> str:
    return f"remarks-{now.astimezone(BEIJING):%Y%m%d-%H%M%S}.xlsx"


def filters_for_audit(filters: dict[str, Any]) -> dict[str, str]:
    """The filters given, as text (the audit log stores JSON)."""
    return {k: str(v) for k, v in filters.items() if v is not None}


def export_xlsx(
    *, session: Session, filters: reading.RemarkFilter, scope: Scope, now: datetime
) -> tuple[bytes, int]:
    """The workbook's bytes and its number of rows (at most ``MAX_ROWS``). Contact data is
    masked (C9): an export never carries it in clear."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("综合点评")
    sheet.append(COLUMNS)
    count = 0
    for row in reading.iter_remarks(
        session=session, scope=scope, filters=filters, now=now, limit=MAX_ROWS
    ):
        remark: Remark = row[0]
        contact = reading.masked_contact(remark)
        item = reading.summary(row, now)
        sheet.append(
            [
                remark.remark_no,
                SOURCE_NAMES.get(remark.source, remark.source),
                CATEGORY_NAMES.get(remark.category, remark.category),
                item.topic_name or "",
                STATUS_NAMES.get(remark.status, remark.status),
                row.region_name,
                row.org_name or "",
                suggest_redaction(remark.text),
                contact.name or "",
                contact.phone or "",
                contact.email or "",
                _local(remark.received_at),
                _local(remark.due_at),
                "是" if item.overdue else "否",
                remark.answer_text or "",
                _local(remark.answered_at),
                remark.published_text or "",
            ]
        )
        count += 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), count
