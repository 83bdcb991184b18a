"""综合点评 test helpers: remarks submitted and moved through the procedure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from haochaping.access.scope import Scope
from haochaping.policy.schemas import RemarkCategory
from haochaping.remarks import service
from haochaping.remarks.models import RemarkSource
from haochaping.remarks.schemas import ContactIn
from tests.factories import T0

NOW = T0 + timedelta(hours=1)
PHONE = "13912345678"
EMAIL = "zhangsan@example.com"
NAME = "张三丰"
# 融安县 (rongan profile: remarks are not published) and 枣庄市 (ZZ: 结果全公开, published).
RA = "450224"
ZZ = "370400"


def submit(
    session: Session,
    region: str = ZZ,
    text: str = "建议大厅增加休息座位，老人等候时太累",
    *,
    contact: bool = True,
    source: RemarkSource = RemarkSource.web,
    **extra: Any,
) -> service.Submitted:
    return service.submit(
        session=session,
        region_code=region,
        text=text,
        source=source,
        actor="public:web",
        scope=Scope.all(),
        now=extra.pop("now", NOW),
        contact=ContactIn(name=NAME, phone=PHONE, email=EMAIL) if contact else None,
        **extra,
    )


def routed(session: Session, remark_no: str, org: str = "Z1") -> None:
    service.route(
        session=session,
        remark_no=remark_no,
        actor="user:sup",
        scope=Scope.all(),
        now=NOW,
        org_code=org,
        category=RemarkCategory.suggestion,
        topic="environment",
    )


def answered(
    session: Session, remark_no: str, text: str = "已增设座椅二十个，感谢您的建议。"
) -> None:
    service.answer(
        session=session,
        remark_no=remark_no,
        actor="user:org",
        scope=Scope.all(),
        now=NOW + timedelta(days=1),
        text=text,
    )
