"""Export of evaluations to xlsx, inside the caller's scope, raters masked (C9) or left out
entirely for a window clerk (C10)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.cases.models import Case
from haochaping.clock import BEIJING
from haochaping.evaluations.models import CHANNEL_NAMES, Channel, Evaluation
from haochaping.evaluations.service import EvaluationFilter, describe, filtered_query
from haochaping.privacy import mask_name, mask_phone

# Rows in one export; a supervisor narrows the filters beyond that.
MAX_ROWS = 100_000
BATCH = 1_000

COLUMNS = [
    "评价编号",
    "办件编号",
    "一件事编号",
    "评价环节",
    "评价等级",
    "得分",
    "差评",
    "评价标签",
    "评价内容",
    "评价渠道",
    "默认评价",
    "补充评价",
    "评价时间（北京时间）",
    "追加评价",
]
RATER_COLUMNS = ["申请人", "联系电话"]


def _rows(
    session: Session, filters: EvaluationFilter, scope: Scope, with_rater: bool
) -> Iterator[list[Any]]:
    query = filtered_query(session=session, filters=filters, scope=scope).order_by(
        Evaluation.rated_at.desc(), Evaluation.id.desc()
    )
    offset = 0
    while offset < MAX_ROWS:
        batch = list(session.scalars(query.offset(offset).limit(BATCH)))
        if not batch:
            return
        offset += len(batch)
        described = describe(session=session, evaluations=batch)
        raters: dict[int, tuple[str | None, str | None]] = {}
        if with_rater:
            case_ids = {e.case_id for e in batch if e.case_id is not None}
            raters = {
                case.id: (mask_name(case.applicant_name), mask_phone(case.applicant_phone))
                for case in session.scalars(select(Case).where(Case.id.in_(case_ids)))
            }
        for evaluation, out in zip(batch, described, strict=True):
            row = [
                out.id,
                out.case_no or "",
                out.bundle_no or "",
                out.stage,
                out.level_name,
                out.score,
                "是" if out.is_bad else "否",
                "、".join(out.label_names),
                out.text or "",
                CHANNEL_NAMES.get(Channel(out.channel), "") if out.channel else "",
                "是" if out.is_default else "否",
                "是" if out.supplementary else "否",
                out.rated_at.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S"),
                out.follow_up.text if out.follow_up and out.follow_up.text else "",
            ]
            if with_rater:
                name, phone = raters.get(evaluation.case_id or 0, (None, None))
                row += [name or "", phone or ""]
            yield row


def export_xlsx(
    *, session: Session, filters: EvaluationFilter, scope: Scope, with_rater: bool
) -> tuple[bytes, int]:
    """The workbook's bytes and its number of evaluation rows (at most ``MAX_ROWS``)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("评价明细")
    sheet.append(COLUMNS + (RATER_COLUMNS if with_rater else []))
    count = 0
    for row in _rows(session, filters, scope, with_rater):
        sheet.append(row)
        count += 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue(), count
